//! The commands a simulated container runs for `exec`: a tiny busybox (`cat`, `ls`, `echo`,
//! `true`, `false`, `sh -c` over those) reading the files simulated containers wrote into their
//! volumes. Pure: a command and a view of the container's files in, output and exit code out.
//! Described for users in `docs/scenario-format.md` (section "exec").

use std::collections::BTreeSet;

/// What `exec` can see of a container's files: the volumes it mounts, by absolute path.
pub trait Files {
    /// The content of the file at absolute `path`, if it exists.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// The names directly inside the directory at absolute `path`, if it is a directory.
    fn list(&self, path: &str) -> Option<BTreeSet<String>>;
}

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes written to stdout.
    pub stdout: Vec<u8>,
    /// Bytes written to stderr.
    pub stderr: Vec<u8>,
    /// Exit code (0 success; 127 command not found, as shells report it).
    pub exit: i32,
}

impl Outcome {
    fn fail(exit: i32, message: String) -> Outcome {
        Outcome {
            stdout: Vec::new(),
            stderr: message.into_bytes(),
            exit,
        }
    }
}

/// The commands the simulator knows, named in the error for any other.
pub const KNOWN: &str = "cat, ls, echo, true, false, sh -c";

/// Run `argv` (program and arguments) against `files`.
pub fn run(argv: &[String], files: &dyn Files) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::fail(
            127,
            "exec: no command given; pass one with command=...\n".into(),
        );
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    match name {
        "cat" => cat(args, files),
        "ls" => ls(args, files),
        "echo" => echo(args),
        "true" => Outcome::default(),
        "false" => Outcome {
            exit: 1,
            ..Outcome::default()
        },
        "sh" | "bash" | "ash" => shell(name, args, files),
        _ => Outcome::fail(
            127,
            format!(
                "exec: \"{program}\": executable file not found in $PATH (the simulated container runs only {KNOWN})\n"
            ),
        ),
    }
}

fn cat(args: &[String], files: &dyn Files) -> Outcome {
    let mut out = Outcome::default();
    for path in args {
        match files.read(path) {
            Some(content) => out.stdout.extend_from_slice(&content),
            None if files.list(path).is_some() => {
                out.stderr
                    .extend(format!("cat: read error: Is a directory: {path}\n").into_bytes());
                out.exit = 1;
            }
            None => {
                out.stderr.extend(
                    format!("cat: can't open '{path}': No such file or directory\n").into_bytes(),
                );
                out.exit = 1;
            }
        }
    }
    out
}

fn ls(args: &[String], files: &dyn Files) -> Outcome {
    let mut paths: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if paths.is_empty() {
        paths.push("/");
    }
    let mut out = Outcome::default();
    for path in paths {
        if let Some(names) = files.list(path) {
            for name in names {
                out.stdout.extend(format!("{name}\n").into_bytes());
            }
        } else if files.read(path).is_some() {
            out.stdout.extend(format!("{path}\n").into_bytes());
        } else {
            out.stderr
                .extend(format!("ls: {path}: No such file or directory\n").into_bytes());
            out.exit = 1;
        }
    }
    out
}

fn echo(args: &[String]) -> Outcome {
    let (newline, words) = match args.first().map(String::as_str) {
        Some("-n") => (false, &args[1..]),
        _ => (true, args),
    };
    let mut text = words.join(" ");
    if newline {
        text.push('\n');
    }
    Outcome {
        stdout: text.into_bytes(),
        ..Outcome::default()
    }
}

/// `sh -c SCRIPT`: simple commands joined by `;`, `&&` and `||`, words split like a shell
/// (quotes, backslashes). Pipes, redirections and expansions are refused with exit code 2.
fn shell(name: &str, args: &[String], files: &dyn Files) -> Outcome {
    let script = match args {
        [flag, script, ..] if flag == "-c" => script,
        _ => {
            return Outcome::fail(
                2,
                format!("{name}: the simulated shell runs only `{name} -c SCRIPT`\n"),
            );
        }
    };
    let plain = script.replace("||", "");
    if let Some(c) = plain
        .chars()
        .find(|c| matches!(c, '|' | '>' | '<' | '$' | '`'))
    {
        return Outcome::fail(
            2,
            format!(
                "{name}: {c:?} is not supported by the simulated shell (simple commands joined by ; && || only)\n"
            ),
        );
    }
    let mut out = Outcome::default();
    let mut run_next = true;
    for (command, joiner) in split_script(script) {
        if run_next {
            let Some(words) = shlex::split(&command) else {
                return Outcome::fail(2, format!("{name}: syntax error: unterminated quote\n"));
            };
            if !words.is_empty() {
                let step = run(&words, files);
                out.stdout.extend(step.stdout);
                out.stderr.extend(step.stderr);
                out.exit = step.exit;
            }
        }
        run_next = match joiner {
            Joiner::And => out.exit == 0,
            Joiner::Or => out.exit != 0,
            Joiner::Then => true,
        };
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joiner {
    Then,
    And,
    Or,
}

/// The commands of a script with what joins each to the next; quoted text is kept whole.
fn split_script(script: &str) -> Vec<(String, Joiner)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';' | '\n') => parts.push((std::mem::take(&mut current), Joiner::Then)),
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                parts.push((std::mem::take(&mut current), Joiner::And));
            }
            (None, '|') if chars.peek() == Some(&'|') => {
                chars.next();
                parts.push((std::mem::take(&mut current), Joiner::Or));
            }
            (None, c) => current.push(c),
        }
    }
    parts.push((current, Joiner::Then));
    parts
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Fake(BTreeMap<String, Vec<u8>>);

    impl Files for Fake {
        fn read(&self, path: &str) -> Option<Vec<u8>> {
            self.0.get(path).cloned()
        }
        fn list(&self, path: &str) -> Option<BTreeSet<String>> {
            let dir = format!("{}/", path.trim_end_matches('/'));
            let names: BTreeSet<String> = self
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(&dir))
                .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
                .collect();
            (!names.is_empty()).then_some(names)
        }
    }

    fn fake() -> Fake {
        Fake(BTreeMap::from([
            ("/tmp/results/e2e.log".to_string(), b"log\n".to_vec()),
            ("/tmp/results/junit_01.xml".to_string(), b"<x/>".to_vec()),
        ]))
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn cat_prints_files_and_fails_on_missing_ones() {
        let out = run(&argv(&["cat", "/tmp/results/e2e.log"]), &fake());
        assert_eq!((out.stdout.as_slice(), out.exit), (&b"log\n"[..], 0));
        let out = run(&argv(&["/bin/cat", "/tmp/results/nope"]), &fake());
        assert_eq!(out.exit, 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"));
        let out = run(&argv(&["cat", "/tmp/results"]), &fake());
        assert_eq!(out.exit, 1);
    }

    #[test]
    fn ls_echo_true_false() {
        let out = run(&argv(&["ls", "/tmp/results"]), &fake());
        assert_eq!(out.stdout, b"e2e.log\njunit_01.xml\n");
        assert_eq!(run(&argv(&["ls", "/nope"]), &fake()).exit, 1);
        assert_eq!(run(&argv(&["echo", "a", "b"]), &fake()).stdout, b"a b\n");
        assert_eq!(run(&argv(&["echo", "-n", "a"]), &fake()).stdout, b"a");
        assert_eq!(run(&argv(&["true"]), &fake()).exit, 0);
        assert_eq!(run(&argv(&["false"]), &fake()).exit, 1);
    }

    #[test]
    fn unknown_commands_exit_127_naming_what_is_known() {
        let out = run(&argv(&["tar", "cf", "-", "/tmp"]), &fake());
        assert_eq!(out.exit, 127);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("\"tar\"") && text.contains(KNOWN), "{text}");
        assert_eq!(run(&[], &fake()).exit, 127);
    }

    #[test]
    fn sh_runs_simple_command_lists() {
        let out = run(&argv(&["sh", "-c", "cat '/tmp/results/e2e.log'"]), &fake());
        assert_eq!((out.stdout.as_slice(), out.exit), (&b"log\n"[..], 0));
        let out = run(&argv(&["sh", "-c", "false && echo no; echo yes"]), &fake());
        assert_eq!(out.stdout, b"yes\n");
        let out = run(&argv(&["sh", "-c", "false || echo fallback"]), &fake());
        assert_eq!((out.stdout.as_slice(), out.exit), (&b"fallback\n"[..], 0));
        let out = run(&argv(&["sh", "-c", "nothere"]), &fake());
        assert_eq!(out.exit, 127);
        let out = run(&argv(&["sh", "-c", "cat x | wc -l"]), &fake());
        assert_eq!(out.exit, 2);
        let out = run(&argv(&["sh", "-c", "echo $HOME"]), &fake());
        assert_eq!(out.exit, 2);
        assert_eq!(run(&argv(&["sh", "x.sh"]), &fake()).exit, 2);
    }
}
