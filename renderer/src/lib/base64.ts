// Values travel as base64; shown as text when they are valid UTF-8.

export function bytesFromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function base64FromBytes(bytes: Uint8Array): string {
  let bin = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) bin += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(bin);
}

export function base64FromText(text: string): string {
  return base64FromBytes(new TextEncoder().encode(text));
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The value as text when it is UTF-8 without control characters (other than tab/newline), else null. */
export function textFromBase64(b64: string): string | null {
  let bytes: Uint8Array;
  try {
    bytes = bytesFromBase64(b64);
  } catch {
    return null;
  }
  try {
    const text = decoder.decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

export interface ShownValue {
  readonly text: string;
  readonly encoding: 'utf-8' | 'base64';
  readonly bytes: number;
}

export function showValue(b64: string): ShownValue {
  const text = textFromBase64(b64);
  let bytes: number;
  try {
    bytes = atob(b64).length;
  } catch {
    bytes = 0;
  }
  return text === null ? { text: b64, encoding: 'base64', bytes } : { text, encoding: 'utf-8', bytes };
}
