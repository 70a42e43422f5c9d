import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { ServerEvent } from '../../../../server/events/ServerEvent.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import {
  awaitByeSteps, byeSteps, configure, eventually, expectNothingLeft, participants, rest, scenario, sipp, sipUdpPort, startOfficeSipServer,
  stopPeersAndServer,
} from '../../../support/sipCalls.js';
import { TEST_API_KEY } from '../../../support/testServer.js';

let server: ConfluxServer;
let nextPeer = 0;

beforeAll(async () => {
  server = await startOfficeSipServer();
  await configure(server, 'dispatch-rules', { id: 'info-pin', name: 'PIN by INFO', type: 'direct', room: 'info-pin-room', numbers: ['3100'], pin: '246', pinMaxAttempts: 2 });
});

afterAll(() => stopPeersAndServer(server));

/**
 * Scenario steps: one in-dialog INFO per digit (application/dtmf-relay, as PBXs and SIP trunks send key
 * presses out of band), each answered 200, 300 ms apart. CSeq numbers start at 2.
 */
function infoSteps(digits: string): string {
  return [...digits].map((digit, i) => `  <send retrans="500">
    <![CDATA[
      INFO sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: ${i + 2} INFO
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=${digit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>`).join('\n  <pause milliseconds="300"/>\n');
}

/** Server-Sent Events from /api/v1/events, parsed as they come, until `close`. */
function subscribe(): { events: ServerEvent[]; close: () => void; connected: Promise<void> } {
  const events: ServerEvent[] = [];
  const abort = new AbortController();
  const connected = (async () => {
    const response = await fetch(`${server.httpUrl}/api/v1/events`, { headers: { authorization: `Bearer ${TEST_API_KEY}` }, signal: abort.signal });
    if (response.status !== 200 || !response.body) throw new Error(`GET /api/v1/events answered ${response.status}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const first = await reader.read();
    buffer += decoder.decode(first.value ?? new Uint8Array(), { stream: true });
    void (async () => {
      for (;;) {
        let part = buffer.indexOf('\n\n');
        while (part >= 0) {
          const block = buffer.slice(0, part);
          buffer = buffer.slice(part + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)) as ServerEvent);
          part = buffer.indexOf('\n\n');
        }
        const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    })();
  })();
  return { events, close: () => abort.abort(), connected };
}

/**
 * SIPp calls the PIN number and keys in `digits` by INFO, then `ending`. Meanwhile it plays G.711 audio from
 * SIPp's pcap (about 7 s), as a phone talks while it sends INFO: the caller's media keeps flowing through a
 * goodbye prompt, so the media timeout does not end the call first.
 */
function callWithInfoDigits(digits: string, ending: string) {
  const audio = '  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>\n';
  const file = scenario('uac-call.xml', { DTMF_PLAY: audio + infoSteps(digits), ENDING: ending });
  const index = nextPeer++;
  return sipp(['-sf', file, `127.0.0.1:${sipUdpPort(server)}`, '-s', '3100', '-p', String(29300 + index), '-mp', String(29310 + index * 10)],
    { timeoutSeconds: 20 });
}

const dtmfOf = (events: ServerEvent[], callId: string) => events
  .flatMap((event) => (event.type === 'dtmf_received' && event.call.id === callId ? [event.digit] : []));

describe('PIN entry with SIP INFO (application/dtmf-relay) from SIPp, watched on the SSE event stream', () => {
  it('INFO digits 2 4 6 # admit the caller; each one is a dtmf_received event on /api/v1/events', async () => {
    const stream = subscribe();
    try {
      await stream.connected;
      // The caller hangs up 1.5 s after its last digit (its INFOs took CSeq 2-5).
      const peer = callWithInfoDigits('246#', byeSteps(1500, 6));
      const [phone] = await eventually(() => participants(server, 'info-pin-room'), (list) => list.length > 0, 8000, 'the caller to be admitted')
        .catch((error: unknown) => { throw new Error(`${String(error)}\n${peer.peer.output()}`); });
      expect(phone!.attributes).toMatchObject({ 'sip.rule': 'info-pin', 'sip.direction': 'inbound' });
      const { code, out } = await peer.result;
      expect(code, out).toBe(0);

      const answered = stream.events.find((event) => event.type === 'call_answered');
      expect(answered, JSON.stringify(stream.events)).toBeDefined();
      const callId = (answered as Extract<ServerEvent, { type: 'call_answered' }>).call.id;
      await eventually(() => stream.events.some((event) => event.type === 'call_ended'), Boolean, 3000, 'call_ended on the stream');
      expect(dtmfOf(stream.events, callId)).toEqual(['2', '4', '6', '#']);
      const types = stream.events.filter((event) => 'call' in event && event.call.id === callId).map((event) => event.type);
      expect(types[0]).toBe('call_answered');
      expect(types.at(-1)).toBe('call_ended');
      expect(stream.events.some((event) => event.type === 'participant_joined' && event.participant.id === phone!.id)).toBe(true);
      const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${callId}`)).body.call;
      expect(ended).toMatchObject({ state: 'ended', endReason: 'remote-hangup', participantId: phone!.id });
      expect(await expectNothingLeft(server)).toEqual([]);
    } finally {
      stream.close();
    }
  });

  it('two wrong PINs by INFO end the call with BYE (pin-failed, after the goodbye prompt) and the caller never joins', async () => {
    const stream = subscribe();
    try {
      await stream.connected;
      const peer = callWithInfoDigits('135790', awaitByeSteps(12_000));
      const { code, out } = await peer.result;
      expect(code, out).toBe(0);
      const ended = await eventually(() => stream.events.find((event) => event.type === 'call_ended'), Boolean, 3000, 'call_ended');
      const call = (ended as Extract<ServerEvent, { type: 'call_ended' }>).call;
      expect(call).toMatchObject({ endReason: 'pin-failed', participantId: null, room: 'info-pin-room' });
      expect(dtmfOf(stream.events, call.id)).toEqual(['1', '3', '5', '7', '9', '0']);
      expect(stream.events.some((event) => event.type === 'participant_joined')).toBe(false);
      expect(await expectNothingLeft(server)).toEqual([]);
    } finally {
      stream.close();
    }
  });
});
