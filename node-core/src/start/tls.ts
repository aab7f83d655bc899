// A node's TLS material: its certificate and key, and optionally the CA its peers' certificates
// must chain to (then internode connections are mutual TLS). Read from files at start, checked
// at once (a bad PEM or a key that does not match the certificate stops the node with the file
// named), and read again on SIGHUP so certificates can be renewed without a restart.
//
// Who checks what:
// - clients and RESP clients check the node's certificate as any TLS client does (the system's
//   CAs, or --ca); the node asks nothing of them at the TLS level (they present tokens);
// - with --tls-ca, the internode listener demands a certificate chaining to that CA, and the
//   dialer checks the listener's against it. Host names are not checked between nodes:
//   addresses move with the cluster and node ids are bound by the token handshake instead;
// - without --tls-ca, internode traffic is encrypted and the token handshake (net/handshake.ts),
//   bound to the TLS session, authenticates both ends: a relay in the middle holds two sessions
//   and cannot make either proof fit.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/** Longest a client's TLS handshake may take on the client-facing listeners (HTTP, RESP). */
const clientHandshakeTimeoutMs = 10_000;

/** The certificates of a PEM file, each parsed; throws naming the file when there is none or one does not parse. */
function certificates(what: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`the TLS ${what} ${path} holds no certificate (PEM "BEGIN CERTIFICATE")`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new Error(`the TLS ${what} ${path} holds a certificate that does not parse: ${(e as Error).message}`, { cause: e });
    }
  });
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string | undefined;
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function read(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}

function load(files: TlsFiles): Material {
  const m = { cert: read('certificate', files.certFile), key: read('key', files.keyFile), ca: files.caFile === undefined ? undefined : read('CA', files.caFile) };
  // An empty or cut-short CA would pass createSecureContext and then refuse every peer.
  certificates('certificate', files.certFile, m.cert);
  if (m.ca && files.caFile) for (const c of certificates('CA', files.caFile, m.ca)) if (!c.ca) throw new Error(`the TLS CA ${files.caFile} holds a certificate that is not a CA (${c.subject})`);
  try {
    // Throws on a malformed PEM or a key that is not the certificate's.
    tls.createSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
  } catch (e) {
    throw new Error(`the TLS files do not fit together (${files.certFile}, ${files.keyFile}${files.caFile ? `, ${files.caFile}` : ''}): ${(e as Error).message}`, { cause: e });
  }
  return m;
}

export class TlsMaterial {
  private m: Material;

  constructor(readonly files: TlsFiles) {
    this.m = load(files);
  }

  /** Whether internode connections are mutual TLS (a CA was given). */
  get mutual(): boolean {
    return this.m.ca !== undefined;
  }

  get ca(): Buffer | undefined {
    return this.m.ca;
  }

  /** Options for a client-facing server (HTTP, RESP): the node's certificate, nothing asked of clients. */
  clientFacing(): tls.TlsOptions {
    return { cert: this.m.cert, key: this.m.key, minVersion: 'TLSv1.2', handshakeTimeout: clientHandshakeTimeoutMs };
  }

  /** Options for the internode listener: with a CA, a peer certificate chaining to it is required. */
  internodeServer(): tls.TlsOptions {
    return { ...this.clientFacing(), ...(this.m.ca ? { ca: this.m.ca, requestCert: true, rejectUnauthorized: true } : {}) };
  }

  /** Options for dialling a peer: our certificate, and the CA its certificate must chain to (see the header). */
  internodeClient(): tls.ConnectionOptions {
    return {
      cert: this.m.cert,
      key: this.m.key,
      minVersion: 'TLSv1.2',
      ...(this.m.ca ? { ca: this.m.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
      checkServerIdentity: () => undefined,
    };
  }

  /** Servers to give the new certificate on reload. */
  track(server: tls.Server, options: () => tls.TlsOptions): void {
    this.servers.set(server, options);
  }

  /** Each tracked server, with the options it is served with. */
  private readonly servers = new Map<tls.Server, () => tls.TlsOptions>();

  /** Reads the files again; on success every tracked server uses them for new connections. */
  reload(): void {
    this.m = load(this.files);
    for (const [s, options] of this.servers) s.setSecureContext(options());
  }
}
