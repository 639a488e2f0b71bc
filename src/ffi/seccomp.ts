// A seccomp BPF filter that takes the network away from the calling thread and
// what it execs, while AF_UNIX sockets (the exec wrapper's socketpair +
// sendmsg) keep working. Linux only; needs no_new_privs first.
import { ptr } from "bun:ffi";
import { check, libc, withPinned } from "./libc.ts";

/** One `struct sock_filter` instruction. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export type SeccompArch = "x64" | "arm64";

export const BPF_LD_W_ABS = 0x20;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_RET_K = 0x06;
export const BPF_ALU_AND_K = 0x54;

export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const EPERM = 1;
export const AF_UNIX = 1;
/** The socket types an AF_UNIX socket may have under the filter: connected ones only. */
export const SOCK_STREAM = 1;
export const SOCK_SEQPACKET = 5;
/** The type argument carries SOCK_NONBLOCK / SOCK_CLOEXEC above these bits. */
export const SOCK_TYPE_MASK = 0xf;

// struct seccomp_data: i32 nr, u32 arch, u64 instruction_pointer, u64 args[6].
// Both supported arches are little-endian, so arg 0's low 32 bits sit at 16.
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_ARG0_LOW = 16;
export const SECCOMP_DATA_ARG1_LOW = 24;

export const AUDIT_ARCH: Record<SeccompArch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 };

// x32 system calls arrive with the x86_64 audit arch and this bit set in nr.
const X32_SYSCALL_BIT = 0x40000000;

const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;

/** execve and execveat, from the same tables. */
export const EXEC_SYSCALLS: Record<SeccompArch, { execve: number; execveat: number }> = {
  x64: { execve: 59, execveat: 322 },
  arm64: { execve: 221, execveat: 281 },
};

interface NetworkSyscalls {
  socket: number;
  socketpair: number;
  denied: Record<string, number>;
}

// From <asm/unistd_64.h> (x86_64) and <asm-generic/unistd.h> (aarch64).
export const NETWORK_SYSCALLS: Record<SeccompArch, NetworkSyscalls> = {
  x64: {
    socket: 41,
    socketpair: 53,
    denied: {
      connect: 42, accept: 43, accept4: 288, bind: 49, listen: 50, getpeername: 52, getsockname: 51,
      shutdown: 48, sendto: 44, sendmmsg: 307, recvmmsg: 299, getsockopt: 55, setsockopt: 54,
      ptrace: 101, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
    },
  },
  arm64: {
    socket: 198,
    socketpair: 199,
    denied: {
      connect: 203, accept: 202, accept4: 242, bind: 200, listen: 201, getpeername: 205, getsockname: 204,
      shutdown: 210, sendto: 206, sendmmsg: 269, recvmmsg: 243, getsockopt: 209, setsockopt: 208,
      ptrace: 117, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
    },
  },
};

export class SeccompUnsupportedArchError extends Error {
  constructor(arch: string) {
    super(`seccomp network filter: unsupported architecture ${arch}`);
    this.name = "SeccompUnsupportedArchError";
  }
}

export function seccompArch(arch: string = process.arch): SeccompArch {
  if (arch === "x64" || arch === "arm64") return arch;
  throw new SeccompUnsupportedArchError(arch);
}

type Label = "deny" | "kill" | "allow" | "checkDomain" | "notify";
type Step = { code: number; k: number; jt?: Label; jf?: Label; label?: Label };

/**
 * The first steps of every filter: a system call from another ABI (i386 via
 * int 0x80, whose numbers differ, or x32) is killed, since a filter written
 * for the native table cannot judge it. Killing is chosen over an errno
 * because such a process cannot do anything useful here anyway, and a
 * SIGSYS death names the cause. Leaves the syscall number loaded.
 */
function nativeAbiOnly(arch: SeccompArch): Step[] {
  const steps: Step[] = [
    { code: BPF_LD_W_ABS, k: SECCOMP_DATA_ARCH },
    { code: BPF_JMP_JEQ_K, k: AUDIT_ARCH[arch], jf: "kill" },
    { code: BPF_LD_W_ABS, k: SECCOMP_DATA_NR },
  ];
  if (arch === "x64") steps.push({ code: BPF_JMP_JGE_K, k: X32_SYSCALL_BIT, jt: "kill" });
  return steps;
}

/** Resolves labels to BPF's jumps: forward only, relative to the next instruction, at most 255. */
function assemble(steps: readonly Step[]): BpfInstruction[] {
  const positions = new Map<Label, number>();
  steps.forEach((step, i) => {
    if (step.label !== undefined) positions.set(step.label, i);
  });
  return steps.map((step, i) => {
    const offset = (label: Label | undefined): number => {
      if (label === undefined) return 0;
      const distance = (positions.get(label) ?? -1) - i - 1;
      if (distance < 0 || distance > 255) throw new Error(`seccomp filter: bad jump to ${label} at ${i}`);
      return distance;
    };
    return { code: step.code, k: step.k >>> 0, jt: offset(step.jt), jf: offset(step.jf) };
  });
}

/**
 * The network filter program:
 * - another ABI: killed (nativeAbiOnly);
 * - the listed syscalls: EPERM whatever the arguments;
 * - socket / socketpair: EPERM unless the domain is AF_UNIX and the type a
 *   connected one (stream or seqpacket). A datagram socket (SOCK_RAW is a
 *   datagram socket too for AF_UNIX) can `sendmsg` to any address, which
 *   seccomp cannot see inside the message header: with no datagram socket
 *   in the sandbox, nothing leaves it by address;
 * - everything else: allowed.
 */
export function buildNetworkFilter(arch: SeccompArch): BpfInstruction[] {
  const table = NETWORK_SYSCALLS[arch];
  const steps = nativeAbiOnly(arch);
  for (const nr of Object.values(table.denied)) steps.push({ code: BPF_JMP_JEQ_K, k: nr, jt: "deny" });
  steps.push(
    { code: BPF_JMP_JEQ_K, k: table.socket, jt: "checkDomain" },
    { code: BPF_JMP_JEQ_K, k: table.socketpair, jt: "checkDomain" },
    { code: BPF_RET_K, k: SECCOMP_RET_ALLOW },
    { code: BPF_LD_W_ABS, k: SECCOMP_DATA_ARG0_LOW, label: "checkDomain" },
    { code: BPF_JMP_JEQ_K, k: AF_UNIX, jf: "deny" },
    { code: BPF_LD_W_ABS, k: SECCOMP_DATA_ARG1_LOW },
    { code: BPF_ALU_AND_K, k: SOCK_TYPE_MASK },
    { code: BPF_JMP_JEQ_K, k: SOCK_STREAM, jt: "allow" },
    { code: BPF_JMP_JEQ_K, k: SOCK_SEQPACKET, jf: "deny" },
    { code: BPF_RET_K, k: SECCOMP_RET_ALLOW, label: "allow" },
    { code: BPF_RET_K, k: SECCOMP_RET_ERRNO | EPERM, label: "deny" },
    { code: BPF_RET_K, k: SECCOMP_RET_KILL_PROCESS, label: "kill" },
  );
  return assemble(steps);
}

/**
 * The exec mediation program: `execve` and `execveat` wait for the listener
 * (the server) to judge them; another ABI is killed (nativeAbiOnly: an i386
 * execve would otherwise pass unseen); everything else is allowed.
 */
export function buildExecNotifyFilter(arch: SeccompArch): BpfInstruction[] {
  const table = EXEC_SYSCALLS[arch];
  return assemble([
    ...nativeAbiOnly(arch),
    { code: BPF_JMP_JEQ_K, k: table.execve, jt: "notify" },
    { code: BPF_JMP_JEQ_K, k: table.execveat, jt: "notify" },
    { code: BPF_RET_K, k: SECCOMP_RET_ALLOW },
    { code: BPF_RET_K, k: SECCOMP_RET_USER_NOTIF, label: "notify" },
    { code: BPF_RET_K, k: SECCOMP_RET_KILL_PROCESS, label: "kill" },
  ]);
}

/** struct sock_fprog for `program` (and the filter it points to, which must stay alive as long). */
export function socketFilterProgram(program: readonly BpfInstruction[]): { fprog: DataView; filter: DataView } {
  // struct sock_filter: u16 code, u8 jt, u8 jf, u32 k (8 bytes each).
  const filter = new DataView(new ArrayBuffer(program.length * 8));
  program.forEach((insn, i) => {
    filter.setUint16(i * 8, insn.code, true);
    filter.setUint8(i * 8 + 2, insn.jt);
    filter.setUint8(i * 8 + 3, insn.jf);
    filter.setUint32(i * 8 + 4, insn.k, true);
  });
  // struct sock_fprog on LP64: u16 len, 6 bytes padding, pointer to the filter.
  const fprog = new DataView(new ArrayBuffer(16));
  fprog.setUint16(0, program.length, true);
  fprog.setBigUint64(8, BigInt(ptr(filter)), true);
  return { fprog, filter };
}

/** Installs `program` on the calling thread with prctl(PR_SET_SECCOMP). */
export function installSeccompFilter(program: readonly BpfInstruction[]): void {
  const { fprog, filter } = socketFilterProgram(program);
  withPinned([filter, fprog], () =>
    check("prctl(PR_SET_SECCOMP)", libc.prctl(PR_SET_SECCOMP, BigInt(SECCOMP_MODE_FILTER), BigInt(ptr(fprog)), 0n, 0n)),
  );
}

/** Takes the network away from the calling thread (see buildNetworkFilter). */
export function installNetworkSeccompFilter(): void {
  installSeccompFilter(buildNetworkFilter(seccompArch()));
}
