import type { Destination } from './TransportTypes.js';

/** What a stream transport keeps per connection, at least. */
export interface Flow {
  /** Flow id handed up with each message, so responses and in-dialog requests reuse the connection. */
  id: string;
  /** `address:port` of the remote end, for reuse by destination (RFC 3261 §18.1.1). */
  key: string;
  /** The remote address alone, which connection caps count by. */
  host: string;
  /** Accepted from a client (as opposed to opened by us). */
  inbound: boolean;
  /** When it opened, and whether a complete message has come over it since. */
  openedAt: number;
  heard: boolean;
}

/** Connection caps of a stream transport. */
export interface FlowLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  silentTimeoutMs: number;
}

/** Open stream connections, findable by flow id and by remote address. */
export class FlowTable<F extends Flow> {
  private readonly byId = new Map<string, F>();
  private readonly byAddress = new Map<string, string>();
  private readonly inboundByHost = new Map<string, number>();
  private refusedCount = 0;

  constructor(private readonly limits: FlowLimits) {}

  /**
   * Whether one more inbound connection from `host` may stay: within the total cap and the source's own.
   * A refused one is counted; the transport closes it at once.
   */
  admit(host: string): boolean {
    const ok = this.byId.size < this.limits.maxConnections && (this.inboundByHost.get(host) ?? 0) < this.limits.maxConnectionsPerSource;
    if (!ok) this.refusedCount += 1;
    return ok;
  }

  /** Inbound connections refused by the caps so far. */
  get refused(): number {
    return this.refusedCount;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Inbound connections that have said nothing since they opened `silentTimeoutMs` ago: to be closed. */
  silent(now: number): F[] {
    return [...this.byId.values()].filter((flow) => flow.inbound && !flow.heard && now - flow.openedAt > this.limits.silentTimeoutMs);
  }

  /** Registers a connection; it becomes the one reused for its remote address. */
  add(flow: F): void {
    this.byId.set(flow.id, flow);
    this.byAddress.set(flow.key, flow.id);
    if (flow.inbound) this.inboundByHost.set(flow.host, (this.inboundByHost.get(flow.host) ?? 0) + 1);
  }

  /** Forgets a connection; false when it was already gone. */
  delete(flow: F): boolean {
    if (!this.byId.delete(flow.id)) return false;
    if (this.byAddress.get(flow.key) === flow.id) this.byAddress.delete(flow.key);
    if (flow.inbound) {
      const left = (this.inboundByHost.get(flow.host) ?? 1) - 1;
      if (left > 0) this.inboundByHost.set(flow.host, left);
      else this.inboundByHost.delete(flow.host);
    }
    return true;
  }

  has(flowId: string): boolean {
    return this.byId.has(flowId);
  }

  /** The connection to send on: the destination's own flow while open, else any to its address. */
  find(dest: Destination): F | undefined {
    const own = dest.flowId ? this.byId.get(dest.flowId) : undefined;
    if (own) return own;
    const id = this.byAddress.get(`${dest.address}:${dest.port}`);
    return id ? this.byId.get(id) : undefined;
  }

  values(): IterableIterator<F> {
    return this.byId.values();
  }
}
