/**
 * Reading a request body into one Buffer without ever holding more than the limit: a
 * Content-Length over the limit is refused before reading, and a body that grows past it
 * (chunked or lying about its length) is refused as soon as it does.
 */
import type { IncomingMessage } from 'node:http';
import { httpErrors } from './errors.ts';

/** The client went away (aborted or reset) before its body was complete. */
export class ClientGoneError extends Error {
  constructor() {
    super('The client closed the connection before the request body was complete');
    this.name = 'ClientGoneError';
  }
}

/** Resolves with the exact bytes; rejects with HttpError 413 or ClientGoneError. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(httpErrors.payloadTooLarge(maxBytes, declared));
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
    };
    function onData(chunk: Buffer) {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      // The stream keeps flowing with no listener, so what follows is dropped, not kept.
      stop();
      chunks = [];
      reject(httpErrors.payloadTooLarge(maxBytes));
    }
    function onEnd() {
      stop();
      resolve(Buffer.concat(chunks, size));
    }
    function onGone() {
      stop();
      reject(new ClientGoneError());
    }
    function onClose() {
      if (!req.complete) onGone();
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
  });
}

/**
 * After an early answer (413), what the client still sends is read and dropped for a short
 * while, so that it gets to read the answer instead of a reset; then the connection is closed.
 */
export function dropRest(req: IncomingMessage, lingerMs: number): void {
  if (req.complete) return;
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.once('end', done);
  socket.once('close', done);
  req.resume();
}
