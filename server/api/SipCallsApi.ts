import express, { type Router } from 'express';
import { z } from 'zod';
import type { SipCallManager } from '../../sip-connector/calls/SipCallManager.js';
import type { TrunkRegistrations } from '../../sip-connector/calls/TrunkRegistrations.js';
import { RoomName } from './apiSchemas.js';
import { parseBody } from './parseBody.js';

const DialOutBody = z.strictObject({
  room: RoomName,
  /** Absent: `to` is a user of this server (sip:<user>@<domain>), called on its registration. */
  trunkId: z.string().min(1).max(64).optional(),
  /** A phone number (digits, optional +) or a sip:/sips: URI. */
  to: z.string().trim().min(1).max(256),
  displayName: z.string().trim().min(1).max(128).optional(),
  ringTimeoutSeconds: z.number().int().min(1).max(300).optional(),
});
export const DialOutBodySchema = DialOutBody;

const DtmfBody = z.strictObject({ digits: z.string().regex(/^[0-9A-D*#]{1,32}$/, '1-32 of 0-9, A-D, * and #') });
export const DtmfBodySchema = DtmfBody;

/** `/sip/calls` (dial-out, list, hang up, DTMF) and `/sip/registrations`. */
export function createSipCallsApi(calls: SipCallManager, registrations: TrunkRegistrations): Router {
  const api = express.Router();
  api.post('/calls', async (request, response) => {
    const body = parseBody(DialOutBody, request.body);
    const result = await calls.dialOut(body);
    response.status(result.outcome === 'answered' ? 201 : 200).json(result);
  });
  api.get('/calls', (_request, response) => {
    response.json({ calls: calls.list() });
  });
  api.get('/calls/:id', (request, response) => {
    response.json({ call: calls.get(String(request.params.id)) });
  });
  api.delete('/calls/:id', async (request, response) => {
    await calls.hangup(String(request.params.id));
    response.status(204).end();
  });
  api.post('/calls/:id/dtmf', async (request, response) => {
    const { digits } = parseBody(DtmfBody, request.body);
    await calls.sendDtmf(String(request.params.id), digits);
    response.status(204).end();
  });
  api.get('/registrations', (_request, response) => {
    response.json({ registrations: registrations.list() });
  });
  return api;
}
