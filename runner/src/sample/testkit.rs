//! Test helpers for the samplers: real child processes that hold known
//! amounts of memory and move on when told to, so tests wait on the child's
//! word rather than on sleeps.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// 10^6 bytes.
pub const MB: u64 = 1_000_000;

/// A python child in its own process group, talked to over its stdin and
/// stdout. Dropping it kills the group; its descendants in other sessions
/// hold a pipe to it and exit when it closes.
pub struct Talker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// Starts `python3 -c script`.
pub fn python(script: &str) -> Talker {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("python3 runs");
    let stdin = child.stdin.take();
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    Talker {
        child,
        stdin,
        stdout,
    }
}

impl Talker {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's next line, without its newline.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("child's stdout");
        assert!(!line.is_empty(), "the child exited early");
        line.trim_end().to_string()
    }

    pub fn expect_line(&mut self, want: &str) {
        assert_eq!(self.read_line(), want);
    }

    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("child's stdin");
    }

    /// Closes its stdin and reaps it.
    pub fn finish(&mut self) {
        self.stdin = None;
        self.child.wait().expect("wait");
    }
}

impl Drop for Talker {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; a negative pid names the
        // child's own process group.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A `sleep` that has pid `pid`, where this process may choose the next pid
/// (root in its pid namespace, Linux): it sets `ns_last_pid` and forks until
/// the kernel hands out `pid` (other processes fork meanwhile). `None` where
/// that is not allowed or never came.
pub fn spawn_with_pid(pid: u32) -> Option<Child> {
    #[cfg(target_os = "linux")]
    for _ in 0..200 {
        let last = (pid - 1).to_string();
        std::fs::write("/proc/sys/kernel/ns_last_pid", last).ok()?;
        let mut child = Command::new("sleep").arg("30").spawn().ok()?;
        if child.id() == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = pid;
    None
}
