// The principal a connection proved with its client certificate, kept on the TLS socket when the
// handshake is verified. HTTP/2 hands handlers a proxy of the socket (the session's, or a
// compatibility request's); reading a property through either reaches the socket itself.
const CERTIFICATE_PRINCIPAL = Symbol("loghouse.certificatePrincipal");

interface WithPrincipal {
  [CERTIFICATE_PRINCIPAL]?: string;
}

export function setCertificatePrincipal(socket: object, principal: string): void {
  (socket as WithPrincipal)[CERTIFICATE_PRINCIPAL] = principal;
}

/** The verified certificate's principal of the connection `socket` (or a proxy of it) belongs to. */
export function certificatePrincipalOf(socket: object | null | undefined): string | undefined {
  return socket === null || socket === undefined ? undefined : (socket as WithPrincipal)[CERTIFICATE_PRINCIPAL];
}
