import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express, { type Express } from 'express';
import { JoinTokens } from './auth/JoinTokens.js';
import { apiKeyAuth } from './api/apiKeyAuth.js';
import { openApiDocument } from './api/openApiDocument.js';
import { createRestApi, jsonErrorHandler } from './api/RestApi.js';
import { detectAnnouncedAddress, maskSecrets, type Config } from './config/Config.js';
import { loadOrCreateSecrets } from './config/secrets.js';
import { NotFoundError } from './errors.js';
import { apiDocs } from './http/apiDocs.js';
import { localHttpUrl } from './cli/localServer.js';
import { ClientBundle, CLIENT_APP_DIR } from './http/ClientBundle.js';
import { configureLogging, createLogger, wantsPrettyLogs } from './logging/Logger.js';
import { Metrics } from './metrics/Metrics.js';
import { RoomRegistry } from './rooms/RoomRegistry.js';
import type { TransportListenConfig } from './rooms/RoomTypes.js';
import { SignallingServer } from './signalling/SignallingServer.js';
import { WorkerPool } from './workers/WorkerPool.js';
import { EventStream } from './events/EventStream.js';
import { JsonFileSipConfigStore, type SipConfigStore } from '../sip-connector/calls/SipConfigStore.js';
import { SipServer } from '../sip-connector/SipServer.js';
import { SipCallManager } from '../sip-connector/calls/SipCallManager.js';
import { InboundRouter } from '../sip-connector/calls/InboundRouter.js';
import { RegisteredUserCalls } from '../sip-connector/calls/RegisteredUserCalls.js';
import { TrunkRegistrations } from '../sip-connector/calls/TrunkRegistrations.js';

const logger = createLogger('server');

/** One conflux node: mediasoup workers, rooms, HTTP (REST, web client, metrics) and signalling. */
export class ConfluxServer {
  readonly config: Config;
  readonly pool: WorkerPool;
  readonly rooms: RoomRegistry;
  readonly tokens: JoinTokens;
  readonly httpServer: http.Server;
  readonly signalling: SignallingServer;
  readonly sipConfig: SipConfigStore;
  /** The SIP endpoint and the calls ↔ rooms layer on it; null when `sip.enabled` is false. */
  readonly sip: SipServer | null;
  readonly sipCalls: SipCallManager | null;
  /** Calls placed by the registrar's users (browser SIP clients to registered contacts). */
  readonly userCalls: RegisteredUserCalls | null;
  readonly trunkRegistrations: TrunkRegistrations | null;
  readonly events: EventStream;
  /** What `/metrics` serves. */
  readonly metrics: Metrics;
  #closed = false;

  private constructor(config: Config, pool: WorkerPool, rooms: RoomRegistry, tokens: JoinTokens,
    httpServer: http.Server, signalling: SignallingServer, sipConfig: SipConfigStore, sip: SipParts | null,
    events: EventStream, metrics: Metrics) {
    this.config = config;
    this.pool = pool;
    this.rooms = rooms;
    this.tokens = tokens;
    this.httpServer = httpServer;
    this.signalling = signalling;
    this.sipConfig = sipConfig;
    this.sip = sip?.server ?? null;
    this.sipCalls = sip?.calls ?? null;
    this.userCalls = sip?.userCalls ?? null;
    this.trunkRegistrations = sip?.registrations ?? null;
    this.events = events;
    this.metrics = metrics;
  }

  /** Starts every part; resolves when HTTP is listening and the workers are up. */
  static async start(config: Config): Promise<ConfluxServer> {
    configureLogging(config.log.level, wantsPrettyLogs(config.log.pretty));
    logger.debug({ config: maskSecrets(config) }, 'starting');
    const auth = { ...config.auth };
    if (!auth.apiKey || !auth.jwtSecret) {
      const { secrets, file, created } = loadOrCreateSecrets(config.dataDir);
      auth.apiKey ||= secrets.apiKey;
      auth.jwtSecret ||= secrets.jwtSecret;
      logger.info({ file }, `${created ? 'generated the API key and token secret' : 'using the stored API key and token secret'}; \`npx conflux api-key\` prints the key`);
    }
    const pool = await WorkerPool.start({ numWorkers: config.mediasoup.numWorkers, logLevel: config.mediasoup.logLevel });
    const rooms = new RoomRegistry(pool, {
      emptyTimeoutSeconds: config.rooms.emptyTimeoutSeconds, maxParticipants: config.rooms.maxParticipants,
    }, config.rooms.maxRooms);
    const tokens = new JoinTokens(auth.jwtSecret, auth.tokenTtlSeconds);
    const sipConfig = new JsonFileSipConfigStore(config.dataDir);
    const announcedAddress = config.rtc.announcedAddress ?? detectAnnouncedAddress(config.rtc.listenIp);
    const listen: TransportListenConfig = {
      listenIp: config.rtc.listenIp,
      announcedAddress,
      minPort: config.rtc.minPort,
      maxPort: config.rtc.maxPort,
      enableTcp: config.rtc.enableTcp,
      initialAvailableOutgoingBitrate: config.rtc.initialAvailableOutgoingBitrate,
    };
    const sip = config.sip.enabled ? await startSip(config, rooms, sipConfig, listen) : null;
    const events = new EventStream(config.webhooks.url ? { url: config.webhooks.url, secret: config.webhooks.secret } : null);
    events.attach(rooms, sip?.calls ?? null);
    const metrics = new Metrics(rooms, pool, sip ? { server: sip.server, calls: sip.calls } : null);
    const app = createHttpApp(config, { apiKey: auth.apiKey, pool, rooms, tokens, sipConfig, sip, events, metrics });
    const httpServer = config.http.tls
      ? https.createServer({ cert: readFileSync(config.http.tls.certFile), key: readFileSync(config.http.tls.keyFile) }, app)
      : http.createServer(app);
    const signalling = new SignallingServer(httpServer, {
      rooms, tokens, listen, autoCreateRooms: config.rooms.autoCreate, onJoinRefused: (reason) => metrics.joinFailures.inc({ reason }),
    });
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.http.port, config.http.host, () => resolve());
    });
    const server = new ConfluxServer(config, pool, rooms, tokens, httpServer, signalling, sipConfig, sip, events, metrics);
    logger.info({ url: server.httpUrl, announcedAddress: listen.announcedAddress }, 'listening');
    return server;
  }

  /** Base URL of the HTTP server (loopback when bound to all interfaces). */
  get httpUrl(): string {
    return localHttpUrl(this.config.http, (this.httpServer.address() as AddressInfo).port);
  }

  /** Removes everyone, stops the workers and the listeners. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.userCalls?.close();
    await this.sipCalls?.close();
    await this.trunkRegistrations?.close();
    this.rooms.closeAll();
    this.events.close();
    await this.sip?.close();
    this.signalling.close();
    this.httpServer.closeAllConnections?.();
    await new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    this.pool.close();
    logger.info('stopped');
  }
}

interface SipParts {
  server: SipServer;
  calls: SipCallManager;
  userCalls: RegisteredUserCalls;
  registrations: TrunkRegistrations;
}

async function startSip(config: Config, rooms: RoomRegistry, store: SipConfigStore, listen: TransportListenConfig): Promise<SipParts> {
  const { announcedAddress } = listen;
  const { sip, rtc } = config;
  const sipServer = await SipServer.start({
    host: sip.host,
    ...(rtc.announcedAddress ? { advertisedHost: rtc.announcedAddress } : {}),
    udpPort: sip.udpPort,
    tcpPort: sip.tcpPort,
    tlsPort: sip.tlsPort,
    wsPort: sip.wsPort,
    wssPort: sip.wssPort,
    ...(sip.tls ? { tls: sip.tls } : {}),
    domain: sip.domain,
    users: sip.users,
    digestAlgorithms: sip.digestAlgorithms,
    authGuard: {
      maxFailuresPerSource: sip.authGuard.maxFailuresPerSource, maxFailuresPerUser: sip.authGuard.maxFailuresPerUser,
      windowMs: sip.authGuard.windowSeconds * 1000, blockMs: sip.authGuard.blockSeconds * 1000,
    },
    ...(sip.rateLimit ? { rateLimit: sip.rateLimit } : {}),
    connectionLimits: {
      ...(sip.connections.max !== null ? { maxConnections: sip.connections.max } : {}),
      maxConnectionsPerSource: sip.connections.perSource, silentTimeoutMs: sip.connections.silentSeconds * 1000,
    },
  }, createLogger('sip'));
  const calls = new SipCallManager({
    ua: sipServer.userAgent, rooms, store, mediaListenIp: rtc.listenIp, mediaAnnouncedAddress: announcedAddress,
    mediaTimeoutSeconds: sip.mediaTimeoutSeconds, pinTimeoutSeconds: sip.pinTimeoutSeconds,
    mixer: {
      jitterTargetMs: sip.jitterTargetMs, adaptiveJitter: sip.adaptiveJitter, portRange: { min: listen.minPort, max: listen.maxPort },
    },
    maxCalls: sip.maxCalls,
  });
  const userCalls = new RegisteredUserCalls({
    ua: sipServer.userAgent, registrar: sipServer.registrar, rooms, calls, listen, store, browserEarlyMedia: sip.browserEarlyMedia,
  });
  const router = new InboundRouter({
    store, calls, userCalls, contactUser: sipServer.userAgent.userName, realm: sip.domain, authGuard: sipServer.authGuard,
  });
  sipServer.userAgent.onInvite((call) => router.handle(call));
  return { server: sipServer, calls, userCalls, registrations: new TrunkRegistrations(sipServer.userAgent, store) };
}

interface HttpAppParts {
  apiKey: string;
  pool: WorkerPool;
  rooms: RoomRegistry;
  tokens: JoinTokens;
  sipConfig: SipConfigStore;
  sip: SipParts | null;
  events: EventStream;
  metrics: Metrics;
}

function createHttpApp(config: Config, { apiKey, pool, rooms, tokens, sipConfig, sip, events, metrics }: HttpAppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  const onKeyRefused = (reason: string) => metrics.authFailures.inc({ surface: 'api', reason });
  app.use(metrics.httpMiddleware());
  app.use((_request, response, next) => {
    response.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  // Degraded (a dead worker's replacement not up yet) still serves: only a pool without workers is not ready.
  app.get('/readyz', (_request, response) => {
    const status = pool.status();
    response.status(status.status === 'not ready' ? 503 : 200).json(status);
  });
  app.get('/metrics', apiKeyAuth(apiKey, onKeyRefused), async (_request, response) => {
    response.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const openApi = openApiDocument();
  app.get('/openapi.json', (_request, response) => {
    response.json(openApi);
  });
  app.use('/docs', apiDocs());
  app.use('/api/v1', createRestApi({
    rooms, tokens, apiKey, onKeyRefused, guestJoin: config.auth.guestJoin, guestTokensPerMinute: config.auth.guestTokensPerMinute,
    guestRoomsPerSource: config.auth.guestRoomsPerSource, sipConfig, events,
    sipCalls: sip ? { calls: sip.calls, registrations: sip.registrations } : null,
  }));
  if (config.http.serveClient) {
    const bundle = new ClientBundle();
    app.get('/', (_request, response) => {
      response.sendFile(path.join(CLIENT_APP_DIR, 'index.html'));
    });
    app.get('/app.css', (_request, response) => {
      response.sendFile(path.join(CLIENT_APP_DIR, 'app.css'));
    });
    app.get('/app.js', async (_request, response, next) => {
      try {
        response.type('text/javascript').send(await bundle.script());
      } catch (error) {
        next(error);
      }
    });
  }
  app.use((request) => {
    throw new NotFoundError(`no route ${request.method} ${request.path}`);
  });
  app.use(jsonErrorHandler);
  return app;
}
