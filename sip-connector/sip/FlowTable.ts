import type { Destination } from './TransportTypes.js';

/** What a stream transport keeps per connection, at least. */
export interface Flow {
  /** Flow id handed up with each message, so responses and in-dialog requests reuse the connection. */
  id: string;
  /** `address:port` of the remote end, for reuse by destination (RFC 3261 §18.1.1). */
  key: string;
}

/** Open stream connections, findable by flow id and by remote address. */
export class FlowTable<F extends Flow> {
  private readonly byId = new Map<string, F>();
  private readonly byAddress = new Map<string, string>();

  /** Registers a connection; it becomes the one reused for its remote address. */
  add(flow: F): void {
    this.byId.set(flow.id, flow);
    this.byAddress.set(flow.key, flow.id);
  }

  /** Forgets a connection; false when it was already gone. */
  delete(flow: F): boolean {
    if (!this.byId.delete(flow.id)) return false;
    if (this.byAddress.get(flow.key) === flow.id) this.byAddress.delete(flow.key);
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
