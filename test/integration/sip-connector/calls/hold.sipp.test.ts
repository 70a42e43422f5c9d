import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import {
  calls, configure, eventually, expectNothingLeft, participants, rest, scenario, sipp, sipUdpPort, startOfficeSipServer,
  stopPeersAndServer,
} from '../../../support/sipCalls.js';
import { ToneRtpSender } from '../../../unit/sip-connector/media/support/rtpStream.js';
import { scratchDir } from '../peers.js';

const HOST = '127.0.0.1';
// SIPp's SIP port and media base (its own media sockets stay unused: the SDP points at the test's socket).
const SIPP = { sip: 29010, media: 29020 };
// Packets the server may still have had in flight when a re-INVITE flipped the direction.
const SETTLE_MS = 300;

let server: ConfluxServer;

beforeAll(async () => {
  // mediaTimeoutSeconds is 5: the inactive phase of the scenario lasts 8 s, past at least one media check.
  server = await startOfficeSipServer(HOST);
  await configure(server, 'dispatch-rules', { id: 'hold', name: 'hold room', type: 'direct', room: 'hold-room', numbers: ['4100'] });
});

afterAll(() => stopPeersAndServer(server));

/** Scenario steps: announce `phase` to the test, re-INVITE offering `offered`, require `answered` in the 200, ACK. */
function reinviteSteps(cseq: number, offered: string, answered: string, phase: string, phaseFile: string, rtpPort: number): string {
  return `  <nop><action><exec command="echo ${phase} >> ${phaseFile}"/></action></nop>
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "SIPp Holder" <sip:+15550200@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 ${cseq} IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio ${rtpPort} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=ptime:20
      a=${offered}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="a=${answered}" search_in="msg" check_it="true" assign_to="direction"/></action>
  </recv>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "SIPp Holder" <sip:+15550200@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>`;
}

describe('hold and resume by re-INVITE from a SIPp caller whose RTP is a socket of the test', () => {
  it('sendonly is answered recvonly and silences our RTP, inactive survives the media timeout, sendrecv resumes; onHold follows', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
    const rtpPort = socket.address().port;
    const phaseFile = join(scratchDir('hold-phases'), 'phases');
    const file = scenario('uac-hold-resume.xml', {
      RTP_PORT: String(rtpPort), PHASE_FILE: phaseFile,
      HOLD: reinviteSteps(2, 'sendonly', 'recvonly', 'hold', phaseFile, rtpPort),
      INACTIVE: reinviteSteps(3, 'inactive', 'inactive', 'inactive', phaseFile, rtpPort),
      RESUME: reinviteSteps(4, 'sendrecv', 'sendrecv', 'resume', phaseFile, rtpPort),
    });

    // The phone: answers where the server's RTP comes from (symmetric RTP), with a PCMU tone, unless told to be quiet.
    const arrivals: number[] = [];
    let serverRtp: { port: number } | null = null;
    let sending = true;
    const sender = new ToneRtpSender('PCMU', 0, 700);
    socket.on('message', (data, rinfo) => {
      if (RtpPacket.parse(data).payloadType !== 0) return;
      arrivals.push(Date.now());
      serverRtp ??= { port: rinfo.port };
    });
    const pump = setInterval(() => {
      if (sending && serverRtp) socket.send(sender.next(), serverRtp.port, HOST);
    }, 20);

    // When the test saw each phase line and each onHold value REST reported.
    const phases = new Map<string, number>();
    const holdSeen: Array<{ at: number; onHold: boolean }> = [];
    let callId: string | null = null;
    let polling = false;
    const watch = setInterval(() => {
      const lines = existsSync(phaseFile) ? readFileSync(phaseFile, 'utf8').split('\n').filter(Boolean) : [];
      for (const line of lines) {
        if (phases.has(line)) continue;
        phases.set(line, Date.now());
        // The phone sends nothing while inactive and starts again just before it offers sendrecv.
        if (line === 'inactive') sending = false;
        if (line === 'resuming') sending = true;
      }
      // One request at a time, so that answers cannot arrive out of order.
      if (polling) return;
      polling = true;
      void calls(server).then((list) => {
        const call = list.find((c) => c.room === 'hold-room' && c.state === 'active');
        if (!call) return;
        callId ??= call.id;
        if (holdSeen.at(-1)?.onHold !== call.onHold) holdSeen.push({ at: Date.now(), onHold: call.onHold });
      }).finally(() => { polling = false; });
    }, 50);

    try {
      const peer = sipp(['-sf', file, `${HOST}:${sipUdpPort(server)}`, '-s', '4100', '-p', String(SIPP.sip), '-mp', String(SIPP.media)],
        { timeoutSeconds: 30 });
      const [phone] = await eventually(() => participants(server, 'hold-room'), (list) => list.length > 0, 5000, 'the caller in hold-room')
        .catch((error: unknown) => { throw new Error(`${String(error)}\n${peer.peer.output()}`); });
      expect(phone!.kind).toBe('sip');
      const { code, out } = await peer.result;
      expect(code, out).toBe(0);

      const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${callId!}`)).body.call;
      expect(ended, 'the caller hung up itself: no media-timeout BYE while inactive').toMatchObject({ state: 'ended', endReason: 'remote-hangup' });
      expect(holdSeen.map((seen) => seen.onHold), 'onHold in REST').toEqual([false, true, false]);
      expect([...phases.keys()]).toEqual(['hold', 'inactive', 'resuming', 'resume']);

      const heldAt = holdSeen[1]!.at;
      const resumedAt = holdSeen[2]!.at;
      const count = (from: number, to: number) => arrivals.filter((at) => at >= from && at < to).length;
      const before = count(0, phases.get('hold')!);
      // The sendrecv re-INVITE leaves SIPp 500 ms after the 'resuming' line: until then the server must stay quiet.
      const held = count(heldAt + SETTLE_MS, phases.get('resuming')! + 400);
      const after = count(resumedAt + SETTLE_MS, Number.MAX_SAFE_INTEGER);
      console.log(`RTP from the server: ${before} before hold, ${held} while held (${phases.get('resuming')! + 400 - heldAt - SETTLE_MS} ms), `
        + `${after} after resume`);
      expect(before, 'RTP before the hold').toBeGreaterThan(50);
      expect(held, 'RTP while held (sendonly, then inactive)').toBe(0);
      expect(after, 'RTP after the resume').toBeGreaterThan(50);

      expect(await participants(server, 'hold-room')).toEqual([]);
      expect(await expectNothingLeft(server)).toEqual([]);
    } finally {
      clearInterval(pump);
      clearInterval(watch);
      sender.close();
      socket.close();
    }
  });
});
