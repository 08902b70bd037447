//! Asking for a key's passphrase on the terminal.
//!
//! Echo is switched off *before* the prompt is shown and without discarding pending input, so
//! whatever is typed or pasted after the prompt appears is read, never echoed and never lost
//! (switching echo off with a flush after printing the prompt loses input that arrives in
//! between).

use std::io::{BufRead, Write};
use std::os::fd::AsFd;

use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};

/// Restores the terminal's settings when dropped (also on an error while reading).
struct EchoOff<'a, Fd: AsFd> {
    fd: &'a Fd,
    original: rustix::termios::Termios,
}

impl<Fd: AsFd> Drop for EchoOff<'_, Fd> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, OptionalActions::Now, &self.original);
    }
}

/// Prints `prompt` on stderr and reads one line from the terminal on stdin without echo.
pub fn ask(prompt: &str) -> std::io::Result<String> {
    let stdin = std::io::stdin();
    let original = tcgetattr(&stdin)?;
    let mut quiet = original.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    // The newline the user types is still shown, so the next output starts on a fresh line.
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&stdin, OptionalActions::Now, &quiet)?;
    let _restore = EchoOff {
        fd: &stdin,
        original,
    };
    let mut stderr = std::io::stderr().lock();
    stderr.write_all(prompt.as_bytes())?;
    stderr.flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    Ok(line)
}
