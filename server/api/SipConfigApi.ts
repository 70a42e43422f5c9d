import express, { type Router } from 'express';
import type { z } from 'zod';
import {
  DispatchRuleInput, InboundTrunkInput, OutboundTrunkInput, RouteInput, redactTrunk, type DispatchRule, type Route,
} from '../../sip-connector/calls/SipCallSchemas.js';
import type { SipConfigItems, SipConfigKind, SipConfigStore } from '../../sip-connector/calls/SipConfigStore.js';
import { BadRequestError, ConfluxError, NotFoundError } from '../errors.js';
import { parseBody } from './parseBody.js';

class ConflictError extends ConfluxError {
  constructor(message: string) { super(message, 409, 409); }
}

interface Collection<K extends SipConfigKind> {
  kind: K;
  path: string;
  label: string;
  schema: z.ZodType<SipConfigItems[K]>;
  present: (item: SipConfigItems[K]) => unknown;
}

/** `/sip/...`: CRUD for inbound trunks, outbound trunks, dispatch rules and routes (durable). */
export function createSipConfigApi(store: SipConfigStore): Router {
  const api = express.Router();
  const checkReferences = (kind: SipConfigKind, item: SipConfigItems[SipConfigKind]) => {
    const inboundTrunkIds = kind === 'dispatchRules' ? (item as DispatchRule).trunkIds
      : kind === 'routes' && (item as Route).type === 'trunk-to-user' ? (item as Extract<Route, { type: 'trunk-to-user' }>).trunkIds : [];
    for (const trunkId of inboundTrunkIds) {
      if (!store.get('inboundTrunks', trunkId)) throw new BadRequestError(`trunkIds: inbound trunk ${trunkId} does not exist`);
    }
    if (kind === 'routes' && (item as Route).type === 'user-to-trunk') {
      const trunkId = (item as Extract<Route, { type: 'user-to-trunk' }>).outboundTrunkId;
      if (!store.get('outboundTrunks', trunkId)) throw new BadRequestError(`outboundTrunkId: outbound trunk ${trunkId} does not exist`);
    }
  };
  /** A trunk that rules or routes name cannot go: they would silently stop matching. */
  const checkUnreferenced = (kind: SipConfigKind, id: string) => {
    const users = kind === 'inboundTrunks'
      ? [
        ...store.list('dispatchRules').filter((rule) => rule.trunkIds.includes(id)).map((rule) => `dispatch rule ${rule.id}`),
        ...store.list('routes').filter((route) => route.type === 'trunk-to-user' && route.trunkIds.includes(id)).map((route) => `route ${route.id}`),
      ]
      : kind === 'outboundTrunks'
        ? store.list('routes').filter((route) => route.type === 'user-to-trunk' && route.outboundTrunkId === id).map((route) => `route ${route.id}`)
        : [];
    if (users.length > 0) throw new ConflictError(`${kind === 'inboundTrunks' ? 'inbound' : 'outbound'} trunk ${id} is used by ${users.join(', ')}`);
  };

  const mount = <K extends SipConfigKind>({ kind, path, label, schema, present }: Collection<K>) => {
    api.get(path, (_request, response) => {
      response.json({ [kind]: store.list(kind).map(present) });
    });
    api.post(path, (request, response) => {
      const item = parseBody(schema, request.body);
      if (store.get(kind, item.id)) throw new ConflictError(`${label} ${item.id} already exists`);
      checkReferences(kind, item);
      store.put(kind, item);
      response.status(201).json(present(item));
    });
    api.get(`${path}/:id`, (request, response) => {
      const item = store.get(kind, String(request.params.id));
      if (!item) throw new NotFoundError(`${label} ${request.params.id} not found`);
      response.json(present(item));
    });
    api.put(`${path}/:id`, (request, response) => {
      const id = String(request.params.id);
      const body = { ...(request.body as object), id };
      if ((request.body as { id?: unknown })?.id !== undefined && (request.body as { id?: unknown }).id !== id) {
        throw new BadRequestError('id in the body differs from the path');
      }
      const item = parseBody(schema, body);
      checkReferences(kind, item);
      const outcome = store.put(kind, item);
      response.status(outcome === 'created' ? 201 : 200).json(present(item));
    });
    api.delete(`${path}/:id`, (request, response) => {
      const id = String(request.params.id);
      checkUnreferenced(kind, id);
      if (!store.delete(kind, id)) throw new NotFoundError(`${label} ${id} not found`);
      response.status(204).end();
    });
  };

  mount({ kind: 'inboundTrunks', path: '/inbound-trunks', label: 'inbound trunk', schema: InboundTrunkInput, present: redactTrunk });
  mount({ kind: 'outboundTrunks', path: '/outbound-trunks', label: 'outbound trunk', schema: OutboundTrunkInput, present: redactTrunk });
  mount({ kind: 'dispatchRules', path: '/dispatch-rules', label: 'dispatch rule', schema: DispatchRuleInput, present: (rule) => rule });
  mount({ kind: 'routes', path: '/routes', label: 'route', schema: RouteInput, present: (route) => route });
  return api;
}
