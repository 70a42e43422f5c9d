import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { TrunkRegistrationStatus } from '../../../../sip-connector/calls/TrunkRegistrations.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import { BaresipPhone } from '../../../support/baresip.js';
import { startKamailio, type Kamailio } from '../../../support/kamailio.js';
import { calls, configure, eventually, expectNothingLeft, participants, rest, startSipServer } from '../../../support/sipCalls.js';
import { stopAllPeers } from '../peers.js';

const KAM_PORT = 27160;
const PASSWORD = 'pbx-secret';
// A softphone (ports 27180-27199 for RTP) registered to the PBX as extension 1001.
const BARESIP = {
  user: '1001', sipPort: 27170, ctrlPort: 27175, rtpPortMin: 27180, toneHz: 440, toneAmplitude: 8000 / 32767, lifetimeMs: 110_000, record: false,
  registrar: { port: KAM_PORT, password: PASSWORD, intervalSeconds: 60 },
};

let kamailio: Kamailio;
let baresip: BaresipPhone;
let server: ConfluxServer;

beforeAll(async () => {
  // Kamailio as the PBX: digest-authenticated REGISTER for every extension, calls relayed to registered contacts.
  kamailio = await startKamailio({ port: KAM_PORT, password: PASSWORD, name: 'kamailio-pbx' });
  server = await startSipServer();
  baresip = await BaresipPhone.start(BARESIP);
});

afterAll(async () => {
  await baresip?.stop();
  await server?.close();
  await kamailio?.stop();
  await stopAllPeers();
});

describe('Kamailio as PBX: the product registers as extension 2000, baresip (extension 1001) calls it', () => {
  it('keeps the trunk registered and shows it over REST', async () => {
    await configure(server, 'outbound-trunks', {
      id: 'pbx', name: 'Kamailio PBX', host: '127.0.0.1', port: KAM_PORT, transport: 'udp', fromNumber: '2000',
      auth: { username: '2000', password: PASSWORD }, register: true, registerExpiresSeconds: 120,
    });
    const [registration] = await eventually(
      async () => (await rest<{ registrations: TrunkRegistrationStatus[] }>(server, 'GET', '/api/v1/sip/registrations')).body.registrations,
      (list) => list[0]?.state !== 'registering', 10_000, 'the trunk registration');
    expect(registration).toMatchObject({ trunkId: 'pbx', state: 'registered', aor: 'sip:2000@127.0.0.1', lastStatus: 200 });
    expect(registration!.expiresSec).toBeGreaterThan(0);
    // The PBX's location table holds extension 2000 pointing at our SIP port.
    expect(kamailio.registrations()).toMatch(new RegExp(`AoR: 2000\\s[^}]*Address: sip:conflux@127\\.0\\.0\\.1:${server.sip!.ports.udp}\\s`));
  });

  it('routes the extension call through Kamailio into the room the callee rule picks, until baresip hangs up', async () => {
    await configure(server, 'inbound-trunks', { id: 'pbx-in', name: 'from the PBX', allowedAddresses: ['127.0.0.1'], codecs: ['PCMU'] });
    await configure(server, 'dispatch-rules', { id: 'ext', name: 'extension rooms', type: 'callee', roomPrefix: 'pbx-', numbers: ['2000'] });
    // baresip registers at start-up, possibly before its control socket is connected: ask the PBX instead.
    await eventually(kamailio.registrations, (dump) => /AoR: 1001\s/.test(dump), 10_000, 'extension 1001 to register');

    baresip.dial(`sip:2000@127.0.0.1:${KAM_PORT}`);
    await eventually(() => baresip.eventTypes, (events) => events.includes('CALL_ESTABLISHED') || events.includes('CALL_CLOSED'), 10_000,
      'baresip to get through');
    expect(baresip.eventTypes, baresip.output().slice(-2000)).toContain('CALL_ESTABLISHED');

    const [phone, ...others] = await eventually(() => participants(server, 'pbx-2000'), (list) => list.length > 0, 5000,
      'a participant in room pbx-2000');
    expect(others).toHaveLength(0);
    expect(phone).toMatchObject({ kind: 'sip' });
    expect(phone!.attributes).toMatchObject({ 'sip.trunk': 'pbx-in', 'sip.rule': 'ext', 'sip.direction': 'inbound' });
    expect(phone!.attributes['sip.from']).toContain('1001@');
    const [call] = (await calls(server)).filter((c) => c.state === 'active');
    expect(call).toMatchObject({ direction: 'inbound', room: 'pbx-2000', codec: 'PCMU', participantId: phone!.id });
    await eventually(() => participants(server, 'pbx-2000'), (list) => (list[0]?.producers.length ?? 0) > 0, 5000, 'the phone producer');

    baresip.hangup();
    const ended = await eventually(async () => (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call!.id}`)).body.call,
      (info) => info.state === 'ended', 5000, 'the call to end on the BYE relayed by Kamailio');
    expect(ended.endReason).toBe('remote-hangup');
    expect(await participants(server, 'pbx-2000')).toEqual([]);
    expect(await expectNothingLeft(server)).toEqual([]);
  });
});
