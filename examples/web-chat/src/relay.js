// The demo routes of `tessera-server serve --demo` (docs/API.md "Demo mode"): a login that
// mints a token for any name, and a relay that stores what clients send (ciphertext only).
// The rest of the API (/v1) is used by tessera-e2ee itself.

/** The server could not be reached at all (stopped, wrong address, offline). */
export class ServerUnreachableError extends Error {
  constructor(url) {
    super(`cannot reach the Tessera server at ${url}`);
    this.name = 'ServerUnreachableError';
    this.code = 'server_unreachable';
  }
}

/** The server answered with an error (`code` is its stable error code). */
export class DemoServerError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'DemoServerError';
    this.status = status;
    this.code = code;
  }
}

/** Bytes → base64url without padding, in slices (String.fromCharCode takes few arguments). */
export function toBase64Url(bytes) {
  let binary = '';
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url (padded or not) → bytes. */
export function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A stored relay message with its ciphertext decoded. */
function messageOf(json) {
  return { ...json, ciphertext: fromBase64Url(json.ciphertext) };
}

export class DemoServer {
  /** `baseUrl`: where the server is; the chat is served by it, so its own origin. */
  constructor(baseUrl) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** One request; JSON in and out; typed errors. `onUploadProgress(sent, total)` optional. */
  request(method, path, { token, body, onUploadProgress } = {}) {
    const url = `${this.baseUrl}${path}`;
    // XMLHttpRequest rather than fetch: it reports upload progress (files).
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.responseType = 'text';
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      if (body !== undefined) xhr.setRequestHeader('Content-Type', 'application/json');
      if (onUploadProgress) {
        xhr.upload.onprogress = (event) => onUploadProgress(event.loaded, event.total);
      }
      xhr.onerror = () => reject(new ServerUnreachableError(this.baseUrl));
      xhr.onload = () => {
        let json = null;
        try {
          json = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          json = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(json);
        } else {
          reject(
            new DemoServerError(
              xhr.status,
              json?.code ?? `http_${xhr.status}`,
              json?.message ?? `the server answered ${xhr.status} to ${method} ${path}`,
            ),
          );
        }
      };
      xhr.send(body === undefined ? null : JSON.stringify(body));
    });
  }

  /** A token for `identity` (demo login: no password, the server mints it). */
  login(identity) {
    return this.request('POST', '/demo/login', { body: { identity } });
  }

  /** Identities with an active card, sorted. */
  async users(token) {
    return (await this.request('GET', '/demo/users', { token })).identities;
  }

  /** Relays ciphertext to `to`; resolves to `{ id, created_at }`. */
  send(token, { to, conversation, kind, ciphertext }, onUploadProgress) {
    return this.request('POST', '/demo/messages', {
      token,
      body: { to, conversation, kind, ciphertext: toBase64Url(ciphertext) },
      onUploadProgress,
    });
  }

  /** Messages the caller sent or received with an id above `after`, oldest first. */
  async messages(token, after, limit = 100) {
    const page = await this.request('GET', `/demo/messages?after=${after}&limit=${limit}`, { token });
    return page.messages.map(messageOf);
  }
}
