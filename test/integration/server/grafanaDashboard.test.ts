import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { startTestServer } from '../../support/testServer.js';

const DASHBOARD = resolve(import.meta.dirname, '../../../docker/grafana-dashboard.json');

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

/** Suffixes Prometheus gives a histogram's series. */
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

describe('the Grafana dashboard in docker/', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('queries only metrics the server exports, grouping and filtering by labels they have', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: Array<{ definition?: string }> } };
    const registry = server.metrics.registry;
    const queries = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: panel.title, expr: target.expr }))),
      ...dashboard.templating.list.filter((variable) => variable.definition).map((variable) => ({ where: 'variables', expr: variable.definition! })),
    ];
    expect(queries.length).toBeGreaterThan(25);
    const used = new Set<string>();
    for (const { where, expr } of queries) {
      const names = expr.match(/conflux_[a-z0-9_]+/g) ?? [];
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const series of names) {
        const metric = registry.getSingleMetric(series) ?? registry.getSingleMetric(series.replace(HISTOGRAM_SERIES, ''));
        expect(metric, `${where}: ${series} is not exported`).toBeDefined();
        const labels = new Set([...((metric as unknown as { labelNames?: string[] }).labelNames ?? []), 'le', 'job', 'instance']);
        // Labels the query groups by or matches on must be labels of the metric (one metric per query here).
        const grouped = [...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((match) => match[1]!.split(',').map((label) => label.trim()));
        const matched = [...expr.matchAll(new RegExp(`${series}\\{([^}]*)\\}`, 'g'))]
          .flatMap((match) => [...match[1]!.matchAll(/([a-z_]+)\s*=~?/g)].map((label) => label[1]!));
        const values = [...expr.matchAll(/label_values\([a-z0-9_]+, ([a-z_]+)\)/g)].map((match) => match[1]!);
        for (const label of [...grouped, ...matched, ...values]) expect(labels.has(label), `${where}: ${series} has no label ${label}`).toBe(true);
        used.add(series.replace(HISTOGRAM_SERIES, ''));
      }
    }
    // The families an operator looks at first are all on it.
    for (const family of ['conflux_media_bitrate_bps', 'conflux_media_packets_lost_total', 'conflux_media_jitter_seconds', 'conflux_media_rtt_seconds',
      'conflux_media_score', 'conflux_media_nacks_total', 'conflux_sip_responses_total', 'conflux_auth_failures_total', 'conflux_join_failures_total',
      'conflux_http_request_duration_seconds', 'conflux_worker_cpu_seconds_total']) {
      expect(used.has(family), family).toBe(true);
    }
  });
});
