import { describe, expect, test } from "bun:test";
import {
  AF_UNIX,
  AUDIT_ARCH,
  BPF_ALU_AND_K,
  BPF_JMP_JEQ_K,
  BPF_JMP_JGE_K,
  BPF_LD_W_ABS,
  BPF_RET_K,
  type BpfInstruction,
  EPERM,
  NETWORK_SYSCALLS,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  type SeccompArch,
  SECCOMP_RET_USER_NOTIF,
  EXEC_SYSCALLS,
  buildExecNotifyFilter,
  buildNetworkFilter,
} from "../../src/ffi/seccomp.ts";

interface SeccompData {
  nr: number;
  arch: number;
  arg0: bigint;
  arg1?: bigint;
}

// A minimal classic-BPF interpreter for the instructions the filter uses.
function run(program: BpfInstruction[], data: SeccompData): number {
  const view = new DataView(new ArrayBuffer(64));
  view.setInt32(0, data.nr, true);
  view.setUint32(4, data.arch, true);
  view.setBigUint64(16, data.arg0, true);
  view.setBigUint64(24, data.arg1 ?? 0n, true);
  let accumulator = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const insn = program[pc]!;
    switch (insn.code) {
      case BPF_LD_W_ABS:
        accumulator = view.getUint32(insn.k, true);
        break;
      case BPF_ALU_AND_K:
        accumulator = (accumulator & insn.k) >>> 0;
        break;
      case BPF_JMP_JEQ_K:
        pc += accumulator === insn.k ? insn.jt : insn.jf;
        break;
      case BPF_JMP_JGE_K:
        pc += accumulator >= insn.k ? insn.jt : insn.jf;
        break;
      case BPF_RET_K:
        return insn.k;
      default:
        throw new Error(`unexpected opcode ${insn.code}`);
    }
  }
  throw new Error("fell off the end of the program");
}

const DENY = (SECCOMP_RET_ERRNO | EPERM) >>> 0;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_STREAM = 1n;
const SOCK_DGRAM = 2n;
const SOCK_RAW = 3n;
const SOCK_SEQPACKET = 5n;
const SOCK_CLOEXEC = 0o2000000n;
const SOCK_NONBLOCK = 0o4000n;

describe.each(["x64", "arm64"] as SeccompArch[])("network filter on %s", (arch) => {
  const program = buildNetworkFilter(arch);
  const table = NETWORK_SYSCALLS[arch];
  const call = (nr: number, arg0 = 0n, auditArch = AUDIT_ARCH[arch], arg1 = SOCK_STREAM) => run(program, { nr, arch: auditArch, arg0, arg1 });

  test("checks the audit arch first, killing a foreign one", () => {
    expect(program[0]).toEqual({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_ARCH });
    expect(program[1]?.code).toBe(BPF_JMP_JEQ_K);
    expect(program[1]?.k).toBe(AUDIT_ARCH[arch]);
    expect(program[2]).toEqual({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_NR });
    expect(call(table.socket, BigInt(AF_INET), 0x40000003)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(call(0, 0n, arch === "x64" ? AUDIT_ARCH.arm64 : AUDIT_ARCH.x64)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(program.at(-1)).toEqual({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS });
  });

  test("AF_UNIX sockets only of a connected type: stream and seqpacket, never datagram (nor raw, which is datagram)", () => {
    for (const nr of [table.socket, table.socketpair]) {
      const unix = (type: bigint) => call(nr, BigInt(AF_UNIX), AUDIT_ARCH[arch], type);
      expect(unix(SOCK_STREAM)).toBe(SECCOMP_RET_ALLOW);
      expect(unix(SOCK_SEQPACKET | SOCK_CLOEXEC)).toBe(SECCOMP_RET_ALLOW);
      expect(unix(0xffffffff00000000n | SOCK_STREAM | SOCK_NONBLOCK)).toBe(SECCOMP_RET_ALLOW);
      expect(unix(SOCK_DGRAM)).toBe(DENY);
      expect(unix(SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK)).toBe(DENY);
      expect(unix(SOCK_RAW)).toBe(DENY);
      expect(unix(0n)).toBe(DENY);
    }
  });

  test("socket and socketpair: only AF_UNIX, judged on the low 32 bits", () => {
    for (const nr of [table.socket, table.socketpair]) {
      expect(call(nr, BigInt(AF_UNIX))).toBe(SECCOMP_RET_ALLOW);
      expect(call(nr, 0xffffffff00000000n | BigInt(AF_UNIX))).toBe(SECCOMP_RET_ALLOW);
      expect(call(nr, BigInt(AF_INET))).toBe(DENY);
      expect(call(nr, BigInt(AF_INET6))).toBe(DENY);
      expect(call(nr, BigInt(AF_NETLINK))).toBe(DENY);
    }
  });

  test("the listed syscalls are denied whatever the arguments", () => {
    expect(Object.keys(table.denied).sort()).toEqual(
      [
        "connect", "accept", "accept4", "bind", "listen", "getpeername", "getsockname", "shutdown", "sendto",
        "sendmmsg", "recvmmsg", "getsockopt", "setsockopt", "ptrace", "io_uring_setup", "io_uring_enter", "io_uring_register",
      ].sort(),
    );
    for (const nr of Object.values(table.denied)) {
      expect(call(nr, BigInt(AF_UNIX))).toBe(DENY);
      expect(call(nr, 0n)).toBe(DENY);
    }
  });

  test("sendmsg, recvmsg, recvfrom, read, write and execve stay allowed", () => {
    const allowed = arch === "x64" ? [46, 47, 45, 0, 1, 59] : [211, 212, 207, 63, 64, 221];
    for (const nr of allowed) expect(call(nr)).toBe(SECCOMP_RET_ALLOW);
  });

  test("every jump lands inside the program", () => {
    program.forEach((insn, i) => {
      if (insn.code !== BPF_JMP_JEQ_K && insn.code !== BPF_JMP_JGE_K) return;
      expect(i + 1 + insn.jt).toBeLessThan(program.length);
      expect(i + 1 + insn.jf).toBeLessThan(program.length);
    });
  });
});

test("x32 system calls are killed on x86_64", () => {
  const program = buildNetworkFilter("x64");
  expect(program[3]).toMatchObject({ code: BPF_JMP_JGE_K, k: 0x40000000 });
  expect(run(program, { nr: 0x40000000 | 41, arch: AUDIT_ARCH.x64, arg0: 2n })).toBe(SECCOMP_RET_KILL_PROCESS);
});

describe.each(["x64", "arm64"] as SeccompArch[])("exec mediation filter on %s", (arch) => {
  const program = buildExecNotifyFilter(arch);
  const call = (nr: number, auditArch = AUDIT_ARCH[arch]) => run(program, { nr, arch: auditArch, arg0: 0n });

  test("execve and execveat wait for the listener; everything else is allowed", () => {
    expect(call(EXEC_SYSCALLS[arch].execve)).toBe(SECCOMP_RET_USER_NOTIF);
    expect(call(EXEC_SYSCALLS[arch].execveat)).toBe(SECCOMP_RET_USER_NOTIF);
    const others = arch === "x64" ? [0, 1, 56, 57, 58, 435] : [63, 64, 220, 435];
    for (const nr of others) expect(call(nr)).toBe(SECCOMP_RET_ALLOW);
  });

  test("a foreign ABI is killed: its exec (i386 execve is 11) would pass unseen", () => {
    expect(call(11, 0x40000003)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(call(EXEC_SYSCALLS[arch].execve, arch === "x64" ? AUDIT_ARCH.arm64 : AUDIT_ARCH.x64)).toBe(SECCOMP_RET_KILL_PROCESS);
    if (arch === "x64") expect(call(0x40000000 | 520)).toBe(SECCOMP_RET_KILL_PROCESS);
  });
});
