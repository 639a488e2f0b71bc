// Unix-domain sockets and fd passing (SCM_RIGHTS) over raw libc.
import { ptr } from "bun:ffi";
import { EAGAIN, EINTR, EPERM, ErrnoError } from "./errno.ts";
import { check, lastErrno, libc, withPinned } from "./libc.ts";

const isDarwin = process.platform === "darwin";

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
const SO_TYPE = isDarwin ? 0x1008 : 3;
const SO_PEERCRED = 17;
const SOCK_CLOEXEC = isDarwin ? 0 : 0o2000000;
const SOL_SOCKET = isDarwin ? 0xffff : 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = isDarwin ? 0x80 : 0x40;
const MSG_NOSIGNAL = isDarwin ? 0 : 0x4000;
const MSG_CTRUNC = isDarwin ? 0x20 : 0x8;
const MSG_CMSG_CLOEXEC = isDarwin ? 0 : 0x40000000;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = isDarwin ? 0x4 : 0x800;

/** The protocol's limit on fds carried by one message. */
export const MAX_FDS_PER_MESSAGE = 16;

// struct msghdr / cmsghdr layouts. LP64 Linux: msghdr is 56 bytes with size_t
// lengths and cmsghdr a 16-byte header; Darwin uses 32-bit lengths (48 / 12).
const layout = isDarwin
  ? { msghdrSize: 48, iovOff: 16, iovLenOff: 24, ctlOff: 32, ctlLenOff: 40, flagsOff: 44, lenWidth: 4, cmsgHeader: 12, align: 4 }
  : { msghdrSize: 56, iovOff: 16, iovLenOff: 24, ctlOff: 32, ctlLenOff: 40, flagsOff: 48, lenWidth: 8, cmsgHeader: 16, align: 8 };

function alignUp(n: number): number {
  return (n + layout.align - 1) & ~(layout.align - 1);
}

function writeLength(view: DataView, offset: number, value: number): void {
  if (layout.lenWidth === 8) view.setBigUint64(offset, BigInt(value), true);
  else view.setUint32(offset, value, true);
}

function readLength(view: DataView, offset: number): number {
  return layout.lenWidth === 8 ? Number(view.getBigUint64(offset, true)) : view.getUint32(offset, true);
}

/** Creates a connected pair of AF_UNIX sockets, close-on-exec. */
export function socketPair(type: typeof SOCK_STREAM | typeof SOCK_DGRAM | typeof SOCK_SEQPACKET): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  check("socketpair", libc.socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, ptr(fds)));
  return [fds[0]!, fds[1]!];
}

/**
 * True when `fd` is an AF_UNIX datagram or seqpacket socket, as the
 * escalation socket is: not a file, a pipe, a stream or a network socket.
 * The sandbox's seccomp filter (network off) refuses getsockname and
 * getsockopt with EPERM, and every socket but AF_UNIX: a socket is then as
 * much as can be known.
 */
export function isUnixMessageSocket(fd: number): boolean {
  const address = new Uint8Array(new ArrayBuffer(128));
  const addressLength = new Uint32Array(new ArrayBuffer(4));
  addressLength[0] = address.byteLength;
  if (libc.getsockname(fd, ptr(address), ptr(addressLength)) !== 0) return lastErrno() === EPERM;
  // Linux: a 16-bit family first; Darwin: a length byte, then an 8-bit family.
  const family = isDarwin ? address[1]! : address[0]! | (address[1]! << 8);
  if (family !== AF_UNIX) return false;
  const type = new Int32Array(new ArrayBuffer(4));
  const typeLength = new Uint32Array(new ArrayBuffer(4));
  typeLength[0] = 4;
  if (libc.getsockopt(fd, SOL_SOCKET, SO_TYPE, ptr(type), ptr(typeLength)) !== 0) return lastErrno() === EPERM;
  return type[0] === SOCK_DGRAM || type[0] === SOCK_SEQPACKET;
}

export function closeFd(fd: number): void {
  libc.close(fd);
}

export function setCloexec(fd: number, enabled: boolean): void {
  const flags = check("fcntl(F_GETFD)", libc.fcntl(fd, F_GETFD, 0));
  const next = enabled ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (next !== flags) check("fcntl(F_SETFD)", libc.fcntl(fd, F_SETFD, next));
}

export function setNonBlocking(fd: number): void {
  const flags = check("fcntl(F_GETFL)", libc.fcntl(fd, F_GETFL, 0));
  if ((flags & O_NONBLOCK) === 0) check("fcntl(F_SETFL)", libc.fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

interface MessageBuffers {
  header: DataView;
  iov: DataView;
  control: DataView;
}

// Typed arrays made with `new Uint8Array(n)` may move when `.buffer` is first
// touched, which would leave a stale pointer in a struct. Every buffer here is
// therefore an ArrayBuffer first, and pointers are taken last.
function zeroed(bytes: number): DataView {
  return new DataView(new ArrayBuffer(bytes));
}

// Builds a msghdr over `data` with a control buffer holding `fdsToSend`, or
// room for `fdCapacity` received fds. The returned views must stay referenced
// until the call returns.
function messageBuffers(data: Uint8Array, fdsToSend: readonly number[], fdCapacity: number): MessageBuffers {
  const fdSlots = Math.max(fdsToSend.length, fdCapacity);
  const header = zeroed(layout.msghdrSize);
  const iov = zeroed(16);
  const control = zeroed(fdSlots > 0 ? layout.cmsgHeader + alignUp(fdSlots * 4) : 0);
  if (fdsToSend.length > 0) {
    writeLength(control, 0, layout.cmsgHeader + fdsToSend.length * 4);
    control.setInt32(layout.lenWidth, SOL_SOCKET, true);
    control.setInt32(layout.lenWidth + 4, SCM_RIGHTS, true);
    fdsToSend.forEach((passed, i) => control.setInt32(layout.cmsgHeader + i * 4, passed, true));
  }
  iov.setBigUint64(0, data.byteLength > 0 ? BigInt(ptr(data)) : 0n, true);
  iov.setBigUint64(8, BigInt(data.byteLength), true);
  header.setBigUint64(layout.iovOff, BigInt(ptr(iov)), true);
  writeLength(header, layout.iovLenOff, 1);
  if (control.byteLength > 0) {
    header.setBigUint64(layout.ctlOff, BigInt(ptr(control)), true);
    writeLength(header, layout.ctlLenOff, control.byteLength);
  }
  return { header, iov, control };
}

/**
 * Sends `data` with `fds` attached as SCM_RIGHTS. Retries on EINTR; returns the
 * number of bytes sent (the fds travel with the first byte).
 */
export function sendWithFds(fd: number, data: Uint8Array, fds: readonly number[], flags = 0): number {
  if (fds.length > MAX_FDS_PER_MESSAGE) throw new RangeError(`at most ${MAX_FDS_PER_MESSAGE} fds per message`);
  const buffers = messageBuffers(data, fds, 0);
  return withPinned([buffers, data], () => {
    for (;;) {
      const sent = libc.sendmsg(fd, ptr(buffers.header), flags | MSG_NOSIGNAL);
      if (sent !== -1n) return Number(sent);
      const errno = lastErrno();
      if (errno !== EINTR) throw new ErrnoError("sendmsg", errno);
    }
  });
}

export interface ReceivedMessage {
  /** Bytes received; empty with `closed` on end of stream. */
  data: Uint8Array;
  /** Descriptors that arrived with the message, now owned by the receiver. */
  fds: number[];
  /** The control buffer was too small: some fds were dropped by the kernel. */
  truncated: boolean;
  closed: boolean;
}

/**
 * Receives one message of at most `maxBytes` bytes with up to `maxFds` fds,
 * close-on-exec. Returns null when `nonBlocking` and nothing is ready.
 */
export function receiveWithFds(fd: number, maxBytes: number, maxFds: number, nonBlocking: boolean): ReceivedMessage | null {
  const data = new Uint8Array(new ArrayBuffer(maxBytes));
  const buffers = messageBuffers(data, [], maxFds);
  const flags = MSG_CMSG_CLOEXEC | (nonBlocking ? MSG_DONTWAIT : 0);
  let received: bigint;
  for (;;) {
    received = libc.recvmsg(fd, ptr(buffers.header), flags);
    if (received !== -1n) break;
    const errno = lastErrno();
    if (errno === EAGAIN && nonBlocking) return null;
    if (errno !== EINTR) throw new ErrnoError("recvmsg", errno);
  }
  const header = buffers.header;
  const fds = parseRights(buffers.control, readLength(header, layout.ctlLenOff));
  const msgFlags = header.getInt32(layout.flagsOff, true);
  const length = Number(received);
  return { data: data.subarray(0, length), fds, truncated: (msgFlags & MSG_CTRUNC) !== 0, closed: length === 0 && fds.length === 0 };
}

function parseRights(view: DataView, controlLength: number): number[] {
  const fds: number[] = [];
  let offset = 0;
  while (offset + layout.cmsgHeader <= controlLength) {
    const length = readLength(view, offset);
    if (length < layout.cmsgHeader) break;
    const level = view.getInt32(offset + layout.lenWidth, true);
    const type = view.getInt32(offset + layout.lenWidth + 4, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      const count = Math.floor((length - layout.cmsgHeader) / 4);
      for (let i = 0; i < count; i++) fds.push(view.getInt32(offset + layout.cmsgHeader + i * 4, true));
    }
    offset += alignUp(length);
  }
  return fds;
}

/**
 * The process that created the peer end of a connected AF_UNIX socket (for
 * a socketpair, the process that made the pair), in this process's PID
 * namespace; 0 when it is in none we can see. Linux only.
 */
export function peerProcessId(fd: number): number {
  // struct ucred: pid_t pid, uid_t uid, gid_t gid.
  const credentials = new DataView(new ArrayBuffer(12));
  const length = new DataView(new ArrayBuffer(4));
  length.setUint32(0, 12, true);
  withPinned([credentials, length], () => check("getsockopt(SO_PEERCRED)", libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(credentials), ptr(length))));
  return credentials.getInt32(0, true);
}

/** Plain send without blocking; returns bytes written, or 0 when the peer's buffer is full. */
export function sendNonBlocking(fd: number, data: Uint8Array): number {
  for (;;) {
    const sent = libc.send(fd, ptr(data), BigInt(data.byteLength), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent !== -1n) return Number(sent);
    const errno = lastErrno();
    if (errno === EAGAIN) return 0;
    if (errno !== EINTR) throw new ErrnoError("send", errno);
  }
}

/** Blocking read of up to `max` bytes; an empty result means end of stream. */
export function readSome(fd: number, max: number): Uint8Array {
  const buffer = new Uint8Array(new ArrayBuffer(max));
  for (;;) {
    const got = libc.read(fd, ptr(buffer), BigInt(max));
    if (got !== -1n) return buffer.subarray(0, Number(got));
    const errno = lastErrno();
    if (errno !== EINTR) throw new ErrnoError("read", errno);
  }
}

/** Blocking write of all of `data`. */
export function writeAll(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.byteLength) {
    const rest = data.subarray(offset);
    const wrote = libc.write(fd, ptr(rest), BigInt(rest.byteLength));
    if (wrote === -1n) {
      const errno = lastErrno();
      if (errno === EINTR) continue;
      throw new ErrnoError("write", errno);
    }
    offset += Number(wrote);
  }
}

