// The attach stage of lxc-initd: join a running container's namespaces
// before the Go runtime starts any thread.
//
// setns(2) into a mount or user namespace is refused for a multi-threaded
// process, and joining a PID namespace only affects children. So this runs
// as a constructor, while the process is still single-threaded, and only
// when the environment asks for it:
//
//   _LXC_SHIM_ATTACH_PID         host PID of the container's init
//   _LXC_SHIM_ATTACH_PIDFD       a pidfd of that init, opened by the caller
//                                before it checked the PID (kernel 5.9+)
//   _LXC_SHIM_ATTACH_ERRFD       descriptor for error messages (else 2)
//   _LXC_SHIM_ATTACH_CGROUP_FDS  comma-separated descriptors of the init's
//                                cgroup.procs files, opened by the caller
//   _LXC_SHIM_ATTACH_KEYRING     "new": the child gets a new session keyring
//                                (lxc.keyring.session, on by default)
//
// Before anything else it makes itself non-dumpable and closes every
// descriptor but stdio and the ones above (the error pipe is marked
// close-on-exec): from the moment it joins the container's PID namespace,
// a process in the container may look at it through /proc, and must find
// neither a descriptor of the caller's (CVE-2024-21626) nor anything it
// may ptrace or read. (The binary itself is a sealed copy, see package
// sealedexe, so /proc/PID/exe leads to nothing writable: CVE-2019-5736.)
//
// It then moves itself into those cgroups, joins the init's namespaces in
// one setns(pidfd) (skipping any it already shares; joining the mount
// namespace puts root and cwd at the container's root): through the pidfd,
// the namespaces joined are always the init's, even if the init died and
// its PID number went to another process meanwhile. It forks once, and
// lets the child (now PID n inside the container) go on into Go. The parent
// stays outside as a waiter: it forwards signals sent to it with kill(2),
// ignores the ones a terminal sends to the whole process group, and exits
// with the child's status (128+N for signal N).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* <linux/keyctl.h> is not installed everywhere. */
#define KEYCTL_JOIN_SESSION_KEYRING 1

static int lxc_shim_entered;
static int errfd = 2;
static volatile pid_t child_pid;

int lxc_shim_nsenter_entered(void) { return lxc_shim_entered; }

static void die(int code, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		_exit(code);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(errfd, buf, n) < 0) {
		/* nothing left to report to */
	}
	_exit(code);
}

/* The descriptors the protocol passes: the error pipe and the cgroup.procs
 * files. Everything else above 2 is closed. */
#define MAXKEEP 64

static int parse_fds(const char *list, int *fds, int max)
{
	const char *p = list;
	int n = 0;

	while (list != NULL && *p) {
		char *end;
		long fd = strtol(p, &end, 10);

		if (end == p || fd < 0 || fd > 0x7fffffff || n == max)
			die(1, "bad cgroup descriptor list \"%s\"", list);
		fds[n++] = (int)fd;
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			die(1, "bad cgroup descriptor list \"%s\"", list);
	}
	return n;
}

static void close_all_but(const int *keep, int n)
{
	unsigned int lo = 3;
	int i, next;

	/* close_range(2) over the gaps between the kept descriptors. Kernels
	 * before 5.9 have none; they cannot run attach anyway (setns on a
	 * pidfd needs 5.8), so there is no fallback to get wrong. */
	for (;;) {
		next = -1;
		for (i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0) {
			if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
				die(1, "close inherited descriptors: close_range: %s (kernel 5.9 or later needed)", strerror(errno));
			return;
		}
		if (next > (int)lo && syscall(SYS_close_range, lo, (unsigned int)next - 1, 0) < 0)
			die(1, "close inherited descriptors: close_range: %s (kernel 5.9 or later needed)", strerror(errno));
		lo = (unsigned int)next + 1;
	}
}

static void join_cgroups(const int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		/* "0" moves the writing process itself. */
		if (write(fds[i], "0", 1) < 0) {
			char link[64], path[256];
			ssize_t len;
			int e = errno;

			snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
			len = readlink(link, path, sizeof(path) - 1);
			path[len < 0 ? 0 : len] = '\0';
			die(1, "join the container's cgroup: write %s: %s", len < 0 ? link : path, strerror(e));
		}
		close(fds[i]);
	}
}

struct ns {
	const char *name;
	int type;
};

/* The namespaces attach joins; setns(pidfd) joins them in one step, in the
 * order the kernel needs (user first). */
static const struct ns namespaces[] = {
	{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID},
	{"mnt", CLONE_NEWNS},
};
#define NNS (sizeof(namespaces) / sizeof(namespaces[0]))

/* In the container's user namespace (lxc.idmap) we still have our host
 * ids, which it does not map: become its root, as lxc-attach does, or
 * every file we create fails with EOVERFLOW and the command runs as
 * nobody. The capabilities setns gave us are the namespace's only. */
static void become_container_root(void)
{
	/* EPERM: setgroups is denied in the namespace; nothing to drop. */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		die(1, "setgroups in the container's user namespace: %s", strerror(errno));
	if (setresgid(0, 0, 0) < 0)
		die(1, "setresgid 0 in the container's user namespace: %s", strerror(errno));
	if (setresuid(0, 0, 0) < 0)
		die(1, "setresuid 0 in the container's user namespace: %s", strerror(errno));
}

static void join_namespaces(const char *pid, int pidfd)
{
	int flags = 0;
	size_t i;

	/* Which namespaces the init does not share with us: /proc/PID is
	 * read by number, so what it showed is the init's only if the pidfd's
	 * process is still alive afterwards (a PID is not reused while its
	 * process, zombie included, exists). */
	for (i = 0; i < NNS; i++) {
		char path[64], self[64];
		struct stat st, own;

		snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, namespaces[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", namespaces[i].name);
		if (stat(path, &st) < 0) {
			if (errno == ENOENT && stat("/proc/self/ns", &own) == 0 && stat(self, &own) < 0)
				continue; /* the kernel does not have this namespace */
			die(1, "%s: %s", path, strerror(errno));
		}
		if (stat(self, &own) == 0 && own.st_dev == st.st_dev && own.st_ino == st.st_ino)
			continue; /* shared with the host: nothing to join */
		flags |= namespaces[i].type;
	}
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		die(1, "the container's init (pid %s) ended: %s", pid, strerror(errno));
	if (flags != 0 && setns(pidfd, flags) < 0)
		die(1, "join the namespaces of the container's init (pid %s): %s", pid, strerror(errno));
	close(pidfd);
	if (flags & CLONE_NEWUSER)
		become_container_root();
}

static void forward(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	/* A terminal's signal reached the whole process group, the child
	 * included; only pass on what was sent to us alone. */
	if (info->si_code != SI_USER && info->si_code != SI_QUEUE)
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void wait_child(void)
{
	static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
	struct sigaction sa;
	size_t i;
	int status;

	prctl(PR_SET_NAME, "lxc-attach", 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);

	/* The waiter keeps no terminal or pipe open: the caller sees end of
	 * file when the child's side is done. */
	close(errfd);
	close(0);
	close(1);
	close(2);
	for (;;) {
		if (waitpid(child_pid, &status, 0) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
	}
}

__attribute__((constructor)) static void lxc_shim_nsenter(void)
{
	const char *pid = getenv("_LXC_SHIM_ATTACH_PID");
	const char *s;
	pid_t child;

	int keep[MAXKEEP], ncg, pidfd = -1;

	if (pid == NULL || *pid == '\0')
		return;
	/* From here on nothing of this process may be read or traced by a
	 * process of the container without CAP_SYS_PTRACE (runc's nsexec
	 * does the same); exec makes the command dumpable again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die(1, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	s = getenv("_LXC_SHIM_ATTACH_ERRFD");
	if (s != NULL && *s != '\0')
		errfd = atoi(s);
	if (strspn(pid, "0123456789") != strlen(pid))
		die(1, "bad PID \"%s\"", pid);

	s = getenv("_LXC_SHIM_ATTACH_PIDFD");
	if (s == NULL || *s == '\0' || strspn(s, "0123456789") != strlen(s))
		die(1, "no pidfd of the container's init");
	pidfd = atoi(s);

	ncg = parse_fds(getenv("_LXC_SHIM_ATTACH_CGROUP_FDS"), keep, MAXKEEP - 2);
	keep[ncg] = errfd;
	keep[ncg + 1] = pidfd;
	close_all_but(keep, ncg + 2);
	if (errfd > 2 && fcntl(errfd, F_SETFD, FD_CLOEXEC) < 0)
		die(1, "error pipe: %s", strerror(errno));

	join_cgroups(keep, ncg);
	join_namespaces(pid, pidfd);
	/* setns(CLONE_NEWNS) already moved root and cwd to the container's
	 * root; say so, so no path of the host's is ever our cwd in there. */
	if (chdir("/") < 0)
		die(1, "chdir / in the container: %s", strerror(errno));

	child = fork();
	if (child < 0)
		die(1, "fork: %s", strerror(errno));
	if (child > 0) {
		child_pid = child;
		wait_child(); /* never returns */
	}
	/* A new session keyring, as LXC gives an attached process: a key in
	 * the caller's session keyring is possessed by whoever has that
	 * keyring, and must not be by the container. Only a kernel without
	 * keys (ENOSYS) has nothing to replace. */
	s = getenv("_LXC_SHIM_ATTACH_KEYRING");
	if (s != NULL && strcmp(s, "new") == 0 && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 &&
	    errno != ENOSYS)
		die(1, "lxc.keyring.session: join a new session keyring: %s", strerror(errno));
	unsetenv("_LXC_SHIM_ATTACH_PID");
	unsetenv("_LXC_SHIM_ATTACH_PIDFD");
	unsetenv("_LXC_SHIM_ATTACH_CGROUP_FDS");
	unsetenv("_LXC_SHIM_ATTACH_KEYRING");
	lxc_shim_entered = 1;
}
