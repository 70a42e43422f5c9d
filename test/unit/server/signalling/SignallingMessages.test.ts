import { describe, expect, it } from 'vitest';
import { RequestEnvelope, requestSchemas } from '../../../../server/signalling/SignallingMessages.js';

describe('signalling message validation', () => {
  it('accepts a well-formed envelope and rejects malformed ones', () => {
    expect(RequestEnvelope.safeParse({ id: 1, method: 'join', data: {} }).success).toBe(true);
    expect(RequestEnvelope.safeParse({ id: -1, method: 'join' }).success).toBe(false);
    expect(RequestEnvelope.safeParse({ id: 1.5, method: 'join' }).success).toBe(false);
    expect(RequestEnvelope.safeParse({ id: 1 }).success).toBe(false);
    expect(RequestEnvelope.safeParse({ id: 1, method: 'x'.repeat(65) }).success).toBe(false);
    expect(RequestEnvelope.safeParse('join').success).toBe(false);
  });

  it('validates join', () => {
    expect(requestSchemas.join.safeParse({ token: 't' }).success).toBe(true);
    expect(requestSchemas.join.safeParse({ token: '' }).success).toBe(false);
    expect(requestSchemas.join.safeParse({ token: 't'.repeat(5000) }).success).toBe(false);
    expect(requestSchemas.join.safeParse({ token: 't', displayName: 'n'.repeat(129) }).success).toBe(false);
  });

  it('validates transports, produce and consume', () => {
    expect(requestSchemas.createWebRtcTransport.safeParse({ direction: 'send' }).success).toBe(true);
    expect(requestSchemas.createWebRtcTransport.safeParse({ direction: 'sideways' }).success).toBe(false);
    expect(requestSchemas.connectWebRtcTransport.safeParse({ transportId: 'a', dtlsParameters: [] }).success).toBe(false);
    const produce = requestSchemas.produce.safeParse({ transportId: 't', kind: 'audio', rtpParameters: {} });
    expect(produce.success && produce.data.source).toBe('mic');
    expect(requestSchemas.produce.safeParse({ transportId: 't', kind: 'data', rtpParameters: {} }).success).toBe(false);
    expect(requestSchemas.produce.safeParse({ transportId: 't', kind: 'audio', rtpParameters: 'x' }).success).toBe(false);
    expect(requestSchemas.consume.safeParse({ transportId: 't', producerId: 'p' }).success).toBe(false);
    expect(requestSchemas.setConsumerPreferredLayers.safeParse({ consumerId: 'c', spatialLayer: 9 }).success).toBe(false);
  });
});
