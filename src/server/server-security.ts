// A node's security as configured: its TLS files (terminated here, for every plane of the one
// port), its ACL and its bearer tokens, all loaded at start and loaded again when a file changes or
// on reload() (SIGHUP). A reload that fails (a half-written file, a key that does not match its
// certificate) is logged and the node keeps what it had. New connections get the new certificate;
// connections in progress keep the one they negotiated.
import * as tls from "node:tls";
import { InvalidConfigError } from "../errors.ts";
import { Acl } from "../security/acl.ts";
import { watchFiles } from "../security/file-watch.ts";
import { certificatePrincipal, PEER_ALPN } from "../security/peer-identity.ts";
import { TokenTable } from "../security/token-table.ts";
import { readTlsMaterial, secureContextOptions, tlsPaths, type TlsMaterial } from "../security/tls-material.ts";
import { CallAuthorizer, type Authorization } from "./call-authorizer.ts";
import type { SecurityConfig } from "./config.ts";
import { setCertificatePrincipal } from "./connection-identity.ts";
import { closeIfSilent } from "./listener.ts";
import type { Logger } from "./logger.ts";
import type { PeerSecurity } from "../cluster/cluster-node.ts";

/** Where a TLS connection goes once its handshake is done, by the protocol ALPN settled on. */
export interface SecureRoutes {
  readonly http2: (socket: tls.TLSSocket) => void;
  readonly http1: (socket: tls.TLSSocket) => void;
  /** A peer connection, whose certificate was verified against the CA. */
  readonly peer: (socket: tls.TLSSocket) => void;
}

/** Reads every configured file: at start and on each reload. */
async function readSecurityFiles(config: SecurityConfig): Promise<{ material: TlsMaterial | undefined; authorization: Authorization }> {
  const [material, acl, tokens] = await Promise.all([
    config.tls === undefined ? undefined : readTlsMaterial(config.tls),
    config.acl === undefined ? undefined : Acl.load(config.acl),
    config.tokensFile === undefined ? undefined : TokenTable.load(config.tokensFile),
  ]);
  return { material, authorization: { acl, tokens } };
}

export class ServerSecurity {
  private tlsServer: tls.Server | undefined;
  private stopWatching: (() => void) | undefined;
  /** The context this node dials its peers with; built again on reload. */
  private peerContext: tls.SecureContext | undefined;

  private constructor(
    private readonly config: SecurityConfig,
    private material: TlsMaterial | undefined,
    readonly authorizer: CallAuthorizer,
    private readonly logger: Logger,
  ) {}

  /** Reads every configured file; rejects with InvalidConfigError naming the one that failed. */
  static async load(config: SecurityConfig, logger: Logger): Promise<ServerSecurity> {
    const { material, authorization } = await readSecurityFiles(config);
    const security = new ServerSecurity(config, material, new CallAuthorizer(authorization, logger), logger);
    // Built now, so that a key that does not fit its certificate fails the start; peers dial with it.
    if (material !== undefined) {
      try {
        security.peerContext = tls.createSecureContext(secureContextOptions(material));
      } catch (error) {
        const files = config.tls!;
        throw new InvalidConfigError(`the TLS certificate ${files.certFile} and key ${files.keyFile} cannot be used together: ${(error as Error).message}`, { cause: error });
      }
    }
    return security;
  }

  get tlsEnabled(): boolean {
    return this.material !== undefined;
  }

  /** Whether an ACL decides what each caller may do (without one, every call is allowed). */
  get authorizes(): boolean {
    return this.config.acl !== undefined;
  }

  /** Whether bearer tokens are taken (a tokens file is configured). */
  get takesTokens(): boolean {
    return this.config.tokensFile !== undefined;
  }

  /** Whether client certificates are verified (a CA is configured). */
  get verifiesClients(): boolean {
    return this.material?.ca !== undefined;
  }

  /**
   * What a cluster member needs to run its peers over mutual TLS: the node's own certificate as a
   * client (current after a rotation), and its ACL for admin and replicate.
   */
  peerSecurity(): PeerSecurity {
    return {
      tls: {
        secureContext: () => {
          this.peerContext ??= tls.createSecureContext(secureContextOptions(this.material!));
          return this.peerContext;
        },
      },
      authorize: (principal, action) => this.authorizer.authorizeAction(action, principal),
    };
  }

  /**
   * The TLS terminator for connections that open with a ClientHello: hand it the raw socket with
   * emit("connection"); it completes the handshake, takes the principal of a verified client
   * certificate, and routes by ALPN. A certificate that does not verify closes the connection, as
   * does a peer's connection without one, and a handshake that fails (the client aborted it, or it
   * took longer than `firstBytesTimeoutMs`: Node only reports that, so the socket is closed here).
   * Each is told to `refused` with its reason, which /metrics counts: the client sees a closed connection.
   */
  createTlsServer(routes: SecureRoutes, firstBytesTimeoutMs: number, refused: (reason: "certificate_refused" | "tls_handshake_failed") => void): tls.Server {
    const material = this.material!;
    const server = tls.createServer({
      ...secureContextOptions(material),
      ALPNProtocols: ["h2", "http/1.1", PEER_ALPN],
      requestCert: material.ca !== undefined,
      // Checked below: a connection without a certificate may still authenticate with a token.
      rejectUnauthorized: false,
      handshakeTimeout: firstBytesTimeoutMs,
    });
    server.on("tlsClientError", (error, socket) => {
      refused("tls_handshake_failed");
      this.logger.debug("TLS handshake failed", { error, remote: socket.remoteAddress });
      socket.destroy();
    });
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      if (!this.route(socket, routes, firstBytesTimeoutMs)) refused("certificate_refused");
    });
    this.tlsServer = server;
    return server;
  }

  /**
   * Routes a connection by ALPN; a peer's that then sends nothing for `firstBytesTimeoutMs` is closed.
   * Returns false when it closed the connection for its certificate instead.
   */
  private route(socket: tls.TLSSocket, routes: SecureRoutes, firstBytesTimeoutMs: number): boolean {
    socket.on("error", () => socket.destroy());
    const presented = socket.getPeerCertificate();
    const hasCertificate = presented !== null && Object.keys(presented).length > 0;
    if (hasCertificate && !socket.authorized) {
      this.logger.warn("closing a TLS connection: its certificate does not verify", { remote: socket.remoteAddress, reason: String(socket.authorizationError) });
      socket.destroy();
      return false;
    }
    const principal = hasCertificate ? certificatePrincipal(presented) : undefined;
    if (principal !== undefined) setCertificatePrincipal(socket, principal);
    if (socket.alpnProtocol === PEER_ALPN) {
      if (!hasCertificate) {
        this.logger.warn("closing a peer connection without a certificate", { remote: socket.remoteAddress });
        socket.destroy();
        return false;
      }
      closeIfSilent(socket, firstBytesTimeoutMs);
      routes.peer(socket);
    } else if (socket.alpnProtocol === "h2") {
      routes.http2(socket);
    } else {
      // "http/1.1", or no ALPN at all (a client that speaks HTTP/1.1 over TLS without asking).
      routes.http1(socket);
    }
    return true;
  }

  /** Starts polling the configured files; a change reloads them. */
  watch(): void {
    const paths = [
      ...(this.config.tls === undefined ? [] : tlsPaths(this.config.tls)),
      ...(this.config.acl === undefined ? [] : [this.config.acl.modelFile, this.config.acl.policyFile]),
      ...(this.config.tokensFile === undefined ? [] : [this.config.tokensFile]),
    ];
    if (paths.length === 0) return;
    this.stopWatching = watchFiles(paths, this.config.reloadIntervalMs, () => void this.reload());
  }

  /** Reads every file again and uses what it read from the next connection (TLS) or call (ACL, tokens) on. */
  async reload(): Promise<void> {
    try {
      const { material, authorization } = await readSecurityFiles(this.config);
      if (material !== undefined) {
        this.tlsServer?.setSecureContext(secureContextOptions(material));
        this.material = material;
        this.peerContext = undefined;
      }
      this.authorizer.replace(authorization);
      this.logger.info("security files reloaded", { tls: material !== undefined, acl: authorization.acl !== undefined, tokens: authorization.tokens !== undefined });
    } catch (error) {
      this.logger.error("security files not reloaded: keeping the ones loaded before", { error });
    }
  }

  close(): void {
    this.stopWatching?.();
  }
}
