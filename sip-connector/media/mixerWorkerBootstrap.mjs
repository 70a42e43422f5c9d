// Entry of the mixer worker when running from TypeScript sources: worker_threads start without the
// parent's TypeScript loader, so register it here before importing the real (.ts) entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
