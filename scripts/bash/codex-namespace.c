/* The namespace stage of the Linux sandbox, linked into our patched Bash (not
   part of Bash: scripts/build-bash.ts compiles this file next to it). It runs
   only when the binary is started with argv[0] = "codex-linux-namespace", from
   a constructor, before Bash's own main; any other name leaves Bash untouched.

   Why C, and why here: a new user namespace can only be entered by a
   single-threaded process (unshare(CLONE_NEWUSER) fails with EINVAL in a Bun
   process, which always has helper threads), and forking a Bun process to run
   JavaScript in the child risks locks held by threads that are gone. Bash is
   static, single-threaded and already shipped, so it starts in well under a
   millisecond and can do this with plain system calls.

   codex-linux-namespace [--report-fd N] [--unshare-net] [--probe]
                         [--rw PATH]... [--ro PATH]... -- FILE ARGV0 [ARG]...

   1. new user (the caller's uid/gid mapped to themselves), mount, PID and IPC
      namespaces, and a network namespace (loopback only) with --unshare-net;
      a new session keyring;
   2. every mount read-only (recursively), then each --rw PATH bound back
      read-write (nodev, nosuid), then each --ro PATH bound read-only on top
      (given in that order, parents first), and a devpts of its own over
      /dev/pts (the machine's terminals hidden). Paths are opened without
      following a symlink and must be what the server resolved: a --rw path
      that changed since is skipped (it stays read-only), a --ro one fails
      the call. A missing path is skipped;
   3. fork: the child is PID 1 of the new PID namespace; it mounts a fresh
      /proc, forks the program's process (capability bounding set emptied, so
      even uid 0 holds no capability in the namespace) and waits for it. When
      the program exits, PID 1 exits with its status (128 + signal for a
      signal) and the kernel kills every other process of the namespace:
      nothing started inside outlives the program, setsid or not;
   4. the first process waits for PID 1 and exits with its status.

   FILE is then our own binary in its codex-linux-sandbox role, which adds
   Landlock and seccomp (they must come after the mounts: Landlock forbids
   mounting) and executes Bash.

   Failures before FILE starts: one line on the report descriptor (else
   stderr) and exit status 121. --probe does steps 1-3 without a program and
   exits 0 when all of it works. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define STAGE_NAME "codex-linux-namespace"
#define FAILURE_EXIT 121

/* The new mount API; same numbers on x86_64 and aarch64. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define CODEX_OPEN_TREE_CLONE 1
#define CODEX_AT_RECURSIVE 0x8000
#define CODEX_AT_EMPTY_PATH 0x1000
#define CODEX_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define CODEX_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define CODEX_MOUNT_ATTR_RDONLY 0x1
#define CODEX_MOUNT_ATTR_NOSUID 0x2
#define CODEX_MOUNT_ATTR_NODEV 0x4
#define CODEX_KEYCTL_JOIN_SESSION_KEYRING 1

struct codex_mount_attr
{
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

static int report_fd = 2;

static void __attribute__ ((noreturn))
stage_fail (const char *what, const char *path, int error)
{
  char line[PATH_MAX + 256];
  int length = snprintf (line, sizeof line, "codex-linux-sandbox: namespace sandbox: %s%s%s: %s\n",
			 what, path ? " " : "", path ? path : "", strerror (error));
  if (length > 0)
    {
      if (length >= (int) sizeof line)
	length = sizeof line - 1;
      if (write (report_fd, line, length) < 0 && report_fd != 2)
	(void) !write (2, line, length);
    }
  _exit (FAILURE_EXIT);
}

static void
write_file (const char *path, const char *text)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    stage_fail ("open", path, errno);
  size_t length = strlen (text);
  if (write (fd, text, length) != (ssize_t) length)
    stage_fail ("write", path, errno);
  close (fd);
}

static int
set_tree_attributes (int tree, uint64_t set, uint64_t clear)
{
  struct codex_mount_attr attr = { set, clear, 0, 0 };
  return syscall (SYS_mount_setattr, tree, "", CODEX_AT_EMPTY_PATH | CODEX_AT_RECURSIVE, &attr, sizeof attr);
}

/* Binds PATH onto itself with the given attributes. The path is opened once
   (not following a final symlink) and everything after works on that open
   file, so nothing can redirect the mount between the check and the bind.
   A path that is no longer what the server resolved is skipped when it was
   to become writable (it stays read-only), and fails the call when it was to
   stay read-only (MUST_HOLD). */
static void
rebind (const char *path, uint64_t set, uint64_t clear, int must_hold)
{
  int target = open (path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0)
    {
      if (errno == ENOENT)
	return;
      stage_fail ("open", path, errno);
    }
  /* The server resolved every path: if the kernel's name for what we opened
     differs (a symlink above it, or something renamed meanwhile), skip it. */
  char link[64], resolved[PATH_MAX];
  snprintf (link, sizeof link, "/proc/self/fd/%d", target);
  ssize_t length = readlink (link, resolved, sizeof resolved - 1);
  if (length < 0)
    stage_fail ("readlink", link, errno);
  resolved[length] = 0;
  struct stat info;
  if (fstat (target, &info) < 0)
    stage_fail ("fstat", path, errno);
  if (strcmp (resolved, path) != 0 || S_ISLNK (info.st_mode))
    {
      if (must_hold)
	stage_fail ("changed while the sandbox was being set up", path, ESTALE);
      close (target);
      return;
    }
  int tree = syscall (SYS_open_tree, target, "", CODEX_OPEN_TREE_CLONE | CODEX_AT_EMPTY_PATH | CODEX_AT_RECURSIVE | O_CLOEXEC);
  if (tree < 0)
    stage_fail ("open_tree", path, errno);
  if (set_tree_attributes (tree, set, clear) < 0)
    {
      /* A mount that was read-only before we started stays so (the kernel
	 locks that flag): keep it read-only rather than fail. */
      if (errno != EPERM || clear == 0 || set_tree_attributes (tree, set, 0) < 0)
	stage_fail ("mount_setattr", path, errno);
    }
  if (syscall (SYS_move_mount, tree, "", target, "", CODEX_MOVE_MOUNT_F_EMPTY_PATH | CODEX_MOVE_MOUNT_T_EMPTY_PATH) < 0)
    stage_fail ("move_mount", path, errno);
  close (tree);
  close (target);
}

/* ROOT_WRITABLE: `/` itself is a writable root (a profile that grants the
   whole file system but not the network), so it is not made read-only: a
   bind over `/` would not move this process's root onto it. */
static void
enter_namespaces (int unshare_net, int root_writable)
{
  char map[64];
  uid_t uid = geteuid ();
  gid_t gid = getegid ();
  int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC;
  if (unshare_net)
    flags |= CLONE_NEWNET;
  if (unshare (flags) < 0)
    stage_fail ("unshare", 0, errno);
  write_file ("/proc/self/setgroups", "deny");
  snprintf (map, sizeof map, "%u %u 1\n", (unsigned) uid, (unsigned) uid);
  write_file ("/proc/self/uid_map", map);
  snprintf (map, sizeof map, "%u %u 1\n", (unsigned) gid, (unsigned) gid);
  write_file ("/proc/self/gid_map", map);
  /* A session keyring of its own: the one inherited from the server is
     shared with processes outside, and the shell could change its keys. */
  if (syscall (SYS_keyctl, CODEX_KEYCTL_JOIN_SESSION_KEYRING, 0) < 0 && errno != ENOSYS)
    stage_fail ("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", 0, errno);
  /* Nothing done here may reach the mounts outside. */
  if (mount (0, "/", 0, MS_REC | MS_PRIVATE, 0) < 0)
    stage_fail ("mount --make-rprivate", "/", errno);
  if (root_writable)
    return;
  struct codex_mount_attr attr = { CODEX_MOUNT_ATTR_RDONLY, 0, 0, 0 };
  if (syscall (SYS_mount_setattr, AT_FDCWD, "/", CODEX_AT_RECURSIVE, &attr, sizeof attr) < 0)
    stage_fail ("mount_setattr (read-only)", "/", errno);
}

/* The machine's terminals stay out of reach (a terminal of the same user could
   be read from: the user's keystrokes): a devpts of our own over /dev/pts,
   and /dev/ptmx pointing at it. */
static void
private_terminals (void)
{
  if (mount ("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
    {
      if (errno == ENOENT)
	return;
      stage_fail ("mount", "/dev/pts", errno);
    }
  if (mount ("/dev/pts/ptmx", "/dev/ptmx", 0, MS_BIND, 0) < 0 && errno != ENOENT)
    stage_fail ("mount --bind /dev/pts/ptmx", "/dev/ptmx", errno);
}

static void
drop_capabilities (void)
{
  for (int cap = 0; cap < 64; cap++)
    if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      stage_fail ("prctl(PR_CAPBSET_DROP)", 0, errno);
  prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static int
exit_code_of (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return FAILURE_EXIT;
}

/* Waits for PID, reaping whatever else ends meanwhile (PID 1 inherits every
   orphan of the namespace); returns its exit code. */
static int
wait_for (pid_t pid)
{
  for (;;)
    {
      int status;
      pid_t done = waitpid (-1, &status, 0);
      if (done == pid)
	return exit_code_of (status);
      if (done < 0 && errno != EINTR)
	stage_fail ("waitpid", 0, errno);
    }
}

static void __attribute__ ((noreturn))
run_init (char **program, int probe)
{
  if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    stage_fail ("prctl(PR_SET_PDEATHSIG)", 0, errno);
  if (mount ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0) < 0)
    stage_fail ("mount", "/proc", errno);
  if (probe)
    _exit (0);
  pid_t child = fork ();
  if (child < 0)
    stage_fail ("fork", 0, errno);
  if (child == 0)
    {
      drop_capabilities ();
      execve (program[0], program + 1, environ);
      stage_fail ("execve", program[0], errno);
    }
  if (report_fd != 2)
    close (report_fd);
  _exit (wait_for (child));
}

static void __attribute__ ((noreturn))
stage_main (int argc, char **argv)
{
  int unshare_net = 0, probe = 0, root_writable = 0, i;
  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--report-fd") == 0 && i + 1 < argc)
	report_fd = atoi (argv[++i]);
      else if (strcmp (argv[i], "--unshare-net") == 0)
	unshare_net = 1;
      else if (strcmp (argv[i], "--probe") == 0)
	probe = 1;
      else if (strcmp (argv[i], "--rw") == 0 && i + 1 < argc && strcmp (argv[i + 1], "/") == 0)
	root_writable = 1;
      else if (strcmp (argv[i], "--") == 0)
	break;
    }
  if (!probe && argc - i < 3)
    stage_fail ("usage", "-- FILE ARGV0 [ARG]...", EINVAL);
  /* Dies with the server (the signal comes when the thread that started us
     exits), and so does everything below, through PID 1's own. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    stage_fail ("prctl(PR_SET_PDEATHSIG)", 0, errno);
  enter_namespaces (unshare_net, root_writable);
  for (int j = 1; j < i; j++)
    if (strcmp (argv[j], "--rw") == 0 && j + 1 < i && !root_writable)
      rebind (argv[++j], CODEX_MOUNT_ATTR_NODEV | CODEX_MOUNT_ATTR_NOSUID, CODEX_MOUNT_ATTR_RDONLY, 0);
  for (int j = 1; j < i; j++)
    if (strcmp (argv[j], "--ro") == 0 && j + 1 < i)
      rebind (argv[++j], CODEX_MOUNT_ATTR_RDONLY | CODEX_MOUNT_ATTR_NODEV | CODEX_MOUNT_ATTR_NOSUID, 0, 1);
  private_terminals ();
  /* The working directory still points into the mount it was in before the
     binds; entering it again by name lands in the bind on top. */
  char cwd[PATH_MAX];
  if (getcwd (cwd, sizeof cwd) != 0 && chdir (cwd) < 0)
    stage_fail ("chdir", cwd, errno);
  pid_t init = fork ();
  if (init < 0)
    stage_fail ("fork", 0, errno);
  if (init == 0)
    run_init (argv + i + 1, probe);
  if (report_fd != 2)
    close (report_fd);
  _exit (wait_for (init));
}

static void __attribute__ ((constructor))
codex_namespace_stage (int argc, char **argv)
{
  if (argc < 1 || argv == 0 || argv[0] == 0)
    return;
  const char *name = strrchr (argv[0], '/');
  name = name ? name + 1 : argv[0];
  if (strcmp (name, STAGE_NAME) == 0)
    stage_main (argc, argv);
}
