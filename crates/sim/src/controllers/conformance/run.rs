//! One simulated run of the e2e suite: which specs it runs (the image's `E2E_FOCUS` and
//! `E2E_SKIP` over the version's spec list), how far it has got at a given time, and the text
//! it writes — the container log (the same as `e2e.log`, as the image's go-runner tees it) and
//! `junit_01.xml` in the ginkgo v2 layout. Pure: "now" is always an argument.

use std::fmt::Write as _;
use std::time::Duration;

use super::specs::{self, Spec};

/// How the scenario says the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every selected spec passes, except those named as failures.
    Complete,
    /// The suite crashes after a few specs: exit code 2, `e2e.log` cut short, no JUnit.
    Crash,
    /// The suite stops making progress after a few specs and never ends.
    Hang,
}

/// Specs a crashing or hanging run gets through.
const SPECS_BEFORE_TROUBLE: usize = 3;

/// What the pod asked for, read from the conformance container's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `E2E_FOCUS` (empty: every spec).
    pub focus: String,
    /// `E2E_SKIP` (empty: nothing skipped).
    pub skip: String,
    /// `--ginkgo.flake-attempts=N` from `E2E_EXTRA_ARGS`, 0 when absent.
    pub flake_attempts: u32,
    /// Parallel ginkgo processes: `--procs=N`/`--nodes=N` in `E2E_EXTRA_GINKGO_ARGS` or a
    /// number in `E2E_PARALLEL` (1 when neither); recorded, the simulated run is one process.
    pub parallel: u32,
    /// The image's tag, e.g. `v1.35.8`: the e2e test version.
    pub image_version: String,
}

/// A planned run.
#[derive(Debug, Clone)]
pub struct Run {
    request: Request,
    apiserver_version: String,
    total: usize,
    /// Every spec of the suite, with whether it is selected and whether it fails.
    all: Vec<(Spec, bool, bool)>,
    /// Indexes into `all` of the selected specs, in run order.
    selected: Vec<usize>,
    ending: Ending,
    duration: Duration,
    /// Set when the suite cannot start (bad regex, no spec list for the version).
    setup_error: Option<String>,
    started: jiff::Timestamp,
}

/// Where a run is at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Specs finished.
    pub done: usize,
    /// The exit code once the suite has ended.
    pub exit: Option<i32>,
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#xA;"),
            c => out.push(c),
        }
    }
    out
}

fn klog_time(at: jiff::Timestamp) -> String {
    at.strftime("%m%d %H:%M:%S%.6f").to_string()
}

fn step_time(at: jiff::Timestamp) -> String {
    at.strftime("%m/%d/%y %H:%M:%S%.3f").to_string()
}

impl Run {
    /// Plan a run of the suite for an API server of `apiserver_version` started at `started`.
    /// `failures` names specs that fail (when selected).
    pub fn new(
        request: Request,
        apiserver_version: &str,
        ending: Ending,
        failures: &[String],
        duration: Duration,
        started: jiff::Timestamp,
    ) -> Run {
        let mut run = Run {
            apiserver_version: apiserver_version.to_string(),
            total: 0,
            all: Vec::new(),
            selected: Vec::new(),
            ending,
            duration,
            setup_error: None,
            started,
            request,
        };
        let version = if run.request.image_version.is_empty() {
            apiserver_version.to_string()
        } else {
            run.request.image_version.clone()
        };
        let Some(catalogue) = specs::minor_of(&version).and_then(specs::catalogue) else {
            run.setup_error = Some(format!(
                "the simulated conformance image has no spec list for {version} (it knows {}); the suite cannot run",
                specs::known_minors()
            ));
            return run;
        };
        let compile = |what: &str, re: &str| {
            regex::Regex::new(re).map_err(|e| format!("Invalid {what} regex {re:?}: {e}"))
        };
        let (focus, skip) = match (
            compile("Focus", &run.request.focus),
            compile("Skip", &run.request.skip),
        ) {
            (Ok(f), Ok(s)) => (f, s),
            (Err(e), _) | (_, Err(e)) => {
                run.setup_error = Some(e);
                return run;
            }
        };
        run.total = catalogue.len();
        for (i, spec) in catalogue.into_iter().enumerate() {
            let chosen = (run.request.focus.is_empty() || focus.is_match(&spec.name))
                && (run.request.skip.is_empty() || !skip.is_match(&spec.name));
            let fails = chosen && failures.contains(&spec.name);
            if chosen {
                run.selected.push(i);
            }
            run.all.push((spec, chosen, fails));
        }
        run
    }

    /// Whether a run that ended with `exit` leaves a `junit_01.xml` (not when it crashed or
    /// could not start).
    pub fn writes_junit(&self, exit: i32) -> bool {
        self.setup_error.is_none() && exit != 2
    }

    /// Number of specs the run will run.
    pub fn selected(&self) -> usize {
        self.selected.len()
    }

    fn per_spec(&self) -> Duration {
        self.duration / u32::try_from(self.selected.len().max(1)).unwrap_or(u32::MAX)
    }

    fn failed(&self) -> usize {
        self.selected.iter().filter(|i| self.all[**i].2).count()
    }

    /// Where the run is `elapsed` after it started.
    pub fn progress(&self, elapsed: Duration) -> Progress {
        if self.setup_error.is_some() {
            return Progress {
                done: 0,
                exit: Some(1),
            };
        }
        let n = self.selected.len();
        let per = self.per_spec().as_nanos().max(1);
        let by_time = usize::try_from(elapsed.as_nanos() / per).unwrap_or(usize::MAX);
        match self.ending {
            Ending::Complete => {
                let ended = elapsed >= self.duration;
                Progress {
                    done: by_time.min(n),
                    exit: ended.then(|| if self.failed() > 0 { 1 } else { 0 }),
                }
            }
            Ending::Crash | Ending::Hang => {
                let stop = SPECS_BEFORE_TROUBLE.min(n);
                let crashed = self.ending == Ending::Crash && by_time >= stop.max(1);
                Progress {
                    done: by_time.min(stop),
                    exit: crashed.then_some(2),
                }
            }
        }
    }

    /// When the progress next changes after `elapsed`, if it ever does.
    pub fn next_change(&self, elapsed: Duration) -> Option<Duration> {
        let now = self.progress(elapsed);
        if now.exit.is_some()
            || (self.ending == Ending::Hang
                && now.done >= SPECS_BEFORE_TROUBLE.min(self.selected.len()))
        {
            return None;
        }
        let per = self.per_spec();
        let next_spec = per * u32::try_from(now.done + 1).unwrap_or(u32::MAX);
        Some(match self.ending {
            Ending::Complete => next_spec.min(self.duration),
            _ => next_spec,
        })
    }

    fn at(&self, offset: Duration) -> jiff::Timestamp {
        self.started + jiff::SignedDuration::try_from(offset).unwrap_or_default()
    }

    /// The log's opening lines (through the suite set-up).
    pub fn header(&self) -> String {
        let t = self.started;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "  I{}      1 e2e.go:109] Starting e2e run \"{}\" on Ginkgo node 1",
            klog_time(t),
            uuid::Uuid::from_u128(t.as_nanosecond().unsigned_abs())
        );
        out.push_str("Running Suite: Kubernetes e2e suite - /usr/local/bin\n");
        out.push_str("====================================================\n");
        let _ = writeln!(
            out,
            "Random Seed: {} - will randomize all specs\n",
            t.as_second()
        );
        if let Some(err) = &self.setup_error {
            let _ = writeln!(out, "{err}\n\nGinkgo ran 1 suite in 0s\nTest Suite Failed");
            return out;
        }
        let _ = writeln!(
            out,
            "Will run {} of {} specs",
            self.selected.len(),
            self.total
        );
        out.push_str("------------------------------\n[ReportBeforeSuite] \nk8s.io/kubernetes/test/e2e/e2e_test.go:153\n[ReportBeforeSuite] PASSED [0.000 seconds]\n");
        out.push_str("------------------------------\n[SynchronizedBeforeSuite] \nk8s.io/kubernetes/test/e2e/e2e.go:69\n");
        let e2e_version = if self.request.image_version.is_empty() {
            &self.apiserver_version
        } else {
            &self.request.image_version
        };
        let _ = writeln!(
            out,
            "  I{} 1 e2e.go:245] e2e test version: {e2e_version}",
            klog_time(t)
        );
        let _ = writeln!(
            out,
            "  I{} 1 e2e.go:254] kube-apiserver version: {}",
            klog_time(t),
            self.apiserver_version
        );
        out.push_str("[SynchronizedBeforeSuite] PASSED [0.001 seconds]\n");
        out
    }

    /// The log lines of the `k`-th spec run (0-based), finished `per_spec` after the previous.
    pub fn spec_lines(&self, k: usize) -> String {
        let (spec, _, fails) = &self.all[self.selected[k]];
        let per = self.per_spec();
        let begin = self.at(per * u32::try_from(k).unwrap_or(0));
        let end = self.at(per * u32::try_from(k + 1).unwrap_or(0));
        let secs = per.as_secs_f64();
        let mut out = String::from("------------------------------\n");
        let _ = writeln!(out, "{}\n{}", spec.name, spec.location);
        let _ = writeln!(
            out,
            "  STEP: Creating a kubernetes client @ {}",
            step_time(begin)
        );
        if *fails {
            let _ = writeln!(out, "  [FAILED] {}", failure_message());
            let _ = writeln!(out, "  In [It] at: {} @ {}", spec.location, step_time(end));
            let _ = writeln!(out, "• [FAILED] [{secs:.3} seconds]");
            let _ = writeln!(out, "{}\n{}\n", spec.name, spec.location);
            let _ = writeln!(out, "  [FAILED] {}", failure_message());
            let _ = writeln!(out, "  In [It] at: {} @ {}", spec.location, step_time(end));
        } else {
            let _ = writeln!(
                out,
                "  STEP: Destroying namespace \"e2e-{k}\" for this suite. @ {}",
                step_time(end)
            );
            let _ = writeln!(out, "• [{secs:.3} seconds]");
        }
        out
    }

    /// The closing lines of a suite that ended with `exit` after `elapsed`.
    pub fn footer(&self, exit: i32, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        if self.setup_error.is_some() {
            return String::new();
        }
        if exit == 2 {
            return "panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n\
                    [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x0]\n\n\
                    goroutine 1 [running]:\n\
                    (the simulated e2e suite crashes here: the scenario's e2e outcome is crash)\n"
                .to_string();
        }
        let n = self.selected.len();
        let failed = self.failed();
        let mut out = String::from(
            "------------------------------\n[SynchronizedAfterSuite] \nk8s.io/kubernetes/test/e2e/e2e.go:80\n[SynchronizedAfterSuite] PASSED [0.000 seconds]\n\
             ------------------------------\n[ReportAfterSuite] Kubernetes e2e suite report\nk8s.io/kubernetes/test/e2e/e2e_test.go:157\n[ReportAfterSuite] PASSED [0.000 seconds]\n\
             ------------------------------\n\n",
        );
        if failed > 0 {
            let _ = writeln!(
                out,
                "Summarizing {failed} Failure{}:",
                if failed == 1 { "" } else { "s" }
            );
            for i in &self.selected {
                let (spec, _, fails) = &self.all[*i];
                if *fails {
                    let _ = writeln!(out, "  [FAIL] {}\n  {}", spec.name, spec.location);
                }
            }
            out.push('\n');
        }
        let _ = writeln!(out, "Ran {n} of {} Specs in {secs:.3} seconds", self.total);
        let verdict = if failed > 0 { "FAIL!" } else { "SUCCESS!" };
        let _ = writeln!(
            out,
            "{verdict} -- {} Passed | {failed} Failed | 0 Pending | {} Skipped",
            n - failed,
            self.total - n
        );
        if failed > 0 {
            let _ = writeln!(out, "--- FAIL: TestE2E ({secs:.2}s)\nFAIL\n");
            let _ = writeln!(out, "Ginkgo ran 1 suite in {secs:.3}s\nTest Suite Failed");
        } else {
            let _ = writeln!(
                out,
                "PASS\n\nGinkgo ran 1 suite in {secs:.3}s\nTest Suite Passed"
            );
        }
        out
    }

    /// `junit_01.xml` of a run that completed after `elapsed` (ginkgo v2 layout: every spec of
    /// the suite listed, unselected ones skipped, plus the suite nodes).
    pub fn junit(&self, elapsed: Duration) -> String {
        let n = self.selected.len();
        let failed = self.failed();
        let skipped = self.total - n;
        let tests = self.total + 4;
        let secs = elapsed.as_secs_f64();
        let per = self.per_spec().as_secs_f64();
        let mut out = String::with_capacity(self.total * 300);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "  <testsuites tests=\"{tests}\" disabled=\"{skipped}\" errors=\"0\" failures=\"{failed}\" time=\"{secs:.9}\">"
        );
        let _ = writeln!(
            out,
            "      <testsuite name=\"Kubernetes e2e suite\" package=\"/usr/local/bin\" tests=\"{tests}\" disabled=\"0\" skipped=\"{skipped}\" errors=\"0\" failures=\"{failed}\" time=\"{secs:.9}\" timestamp=\"{}\">",
            self.started.strftime("%Y-%m-%dT%H:%M:%S")
        );
        out.push_str("          <properties>\n");
        let props = [
            ("SuiteSucceeded", (failed == 0).to_string()),
            ("SuiteHasProgrammaticFocus", "false".into()),
            ("SpecialSuiteFailureReason", String::new()),
            ("SuiteLabels", "[]".into()),
            ("RandomSeed", self.started.as_second().to_string()),
            ("RandomizeAllSpecs", "true".into()),
            ("LabelFilter", String::new()),
            ("FocusStrings", self.request.focus.clone()),
            ("SkipStrings", self.request.skip.clone()),
            ("FocusFiles", String::new()),
            ("SkipFiles", String::new()),
            ("FailOnPending", "false".into()),
            ("FailOnEmpty", "false".into()),
            ("FailFast", "false".into()),
            ("FlakeAttempts", self.request.flake_attempts.to_string()),
            ("DryRun", "false".into()),
            ("ParallelTotal", self.request.parallel.max(1).to_string()),
            ("OutputInterceptorMode", String::new()),
        ];
        for (name, value) in props {
            let _ = writeln!(
                out,
                "              <property name=\"{name}\" value=\"{}\"></property>",
                xml_escape(&value)
            );
        }
        out.push_str("          </properties>\n");
        let node = |out: &mut String, name: &str| {
            let _ = writeln!(
                out,
                "          <testcase name=\"{name}\" classname=\"Kubernetes e2e suite\" status=\"passed\" time=\"0\"></testcase>"
            );
        };
        node(&mut out, "[ReportBeforeSuite]");
        node(&mut out, "[SynchronizedBeforeSuite]");
        let end = step_time(self.at(self.duration));
        for (spec, chosen, fails) in &self.all {
            let name = xml_escape(&format!("[It] {}", spec.name));
            match (chosen, fails) {
                (false, _) => {
                    let _ = writeln!(
                        out,
                        "          <testcase name=\"{name}\" classname=\"Kubernetes e2e suite\" status=\"skipped\" time=\"0\">\n              <skipped message=\"skipped\"></skipped>\n          </testcase>"
                    );
                }
                (true, false) => {
                    let _ = writeln!(
                        out,
                        "          <testcase name=\"{name}\" classname=\"Kubernetes e2e suite\" status=\"passed\" time=\"{per:.9}\"></testcase>"
                    );
                }
                (true, true) => {
                    let text = xml_escape(&format!(
                        "[FAILED] {}\nIn [It] at: {} @ {end}\n",
                        failure_message(),
                        spec.location
                    ));
                    let _ = writeln!(
                        out,
                        "          <testcase name=\"{name}\" classname=\"Kubernetes e2e suite\" status=\"failed\" time=\"{per:.9}\">\n              <failure message=\"{text}\" type=\"failed\">{text}</failure>\n          </testcase>"
                    );
                }
            }
        }
        node(&mut out, "[SynchronizedAfterSuite]");
        node(&mut out, "[ReportAfterSuite] Kubernetes e2e suite report");
        out.push_str("      </testsuite>\n  </testsuites>");
        out
    }

    /// The log up to `elapsed`: header, the specs done, and the footer once ended.
    pub fn log_until(&self, elapsed: Duration) -> String {
        let progress = self.progress(elapsed);
        let mut out = self.header();
        for k in 0..progress.done {
            out.push_str(&self.spec_lines(k));
        }
        if let Some(exit) = progress.exit {
            out.push_str(&self.footer(exit, elapsed));
        }
        out
    }
}

fn failure_message() -> &'static str {
    "Expected the simulated check to succeed, but it failed (simulated: the scenario's e2e.failures names this spec)"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> jiff::Timestamp {
        "2026-12-03T06:00:00Z".parse().unwrap()
    }

    fn run(focus: &str, skip: &str, ending: Ending, failures: &[&str]) -> Run {
        let failures: Vec<String> = failures.iter().map(|s| s.to_string()).collect();
        Run::new(
            Request {
                focus: focus.into(),
                skip: skip.into(),
                flake_attempts: 2,
                parallel: 4,
                image_version: "v1.33.5".into(),
            },
            "v1.33.5",
            ending,
            &failures,
            Duration::from_secs(10),
            t0(),
        )
    }

    const FAILING: &str =
        "[sig-network] Services should serve a basic endpoint from pods [Conformance]";

    #[test]
    fn conformance_focus_selects_the_versions_count_and_passes_in_time() {
        let r = run(r"\[Conformance\]", "", Ending::Complete, &[]);
        assert_eq!(r.selected(), 419);
        assert_eq!(
            r.progress(Duration::ZERO),
            Progress {
                done: 0,
                exit: None
            }
        );
        assert_eq!(r.progress(Duration::from_secs(5)).done, 209);
        assert_eq!(
            r.progress(Duration::from_secs(10)),
            Progress {
                done: 419,
                exit: Some(0)
            }
        );
        let log = r.log_until(Duration::from_secs(10));
        assert!(log.contains("Will run 419 of 6735 specs\n"));
        assert!(log.contains("e2e test version: v1.33.5\n"));
        assert!(log.contains("kube-apiserver version: v1.33.5\n"));
        assert_eq!(log.lines().filter(|l| l.starts_with('•')).count(), 419);
        assert!(log.contains("Ran 419 of 6735 Specs in 10.000 seconds\nSUCCESS! -- 419 Passed | 0 Failed | 0 Pending | 6316 Skipped\n"));
        let junit = r.junit(Duration::from_secs(10));
        assert!(
            junit.contains(
                "<testsuites tests=\"6739\" disabled=\"6316\" errors=\"0\" failures=\"0\""
            )
        );
        assert_eq!(junit.matches("status=\"passed\"").count(), 419 + 4);
        assert_eq!(junit.matches("status=\"skipped\"").count(), 6316);
        assert!(junit.contains("name=\"FlakeAttempts\" value=\"2\""));
        assert!(junit.contains("name=\"ParallelTotal\" value=\"4\""));
        assert!(junit.contains("name=\"FocusStrings\" value=\"\\[Conformance\\]\""));
    }

    #[test]
    fn named_failures_fail_with_message_and_location() {
        let r = run(r"\[Conformance\]", "", Ending::Complete, &[FAILING]);
        assert_eq!(r.progress(Duration::from_secs(11)).exit, Some(1));
        let log = r.log_until(Duration::from_secs(11));
        assert!(log.contains("• [FAILED] ["));
        assert!(log.contains(&format!("Summarizing 1 Failure:\n  [FAIL] {FAILING}\n  k8s.io/kubernetes/test/e2e/network/service.go:787")));
        assert!(log.contains("FAIL! -- 418 Passed | 1 Failed | 0 Pending | 6316 Skipped"));
        let junit = r.junit(Duration::from_secs(11));
        assert!(junit.contains("failures=\"1\""));
        assert!(junit.contains("status=\"failed\""));
        assert!(junit.contains("<failure message=\"[FAILED] "));
        // A failure that is not selected does not appear.
        let netpol = run("NetworkPolicy", "", Ending::Complete, &[FAILING]);
        assert_eq!(netpol.progress(Duration::from_secs(11)).exit, Some(0));
    }

    #[test]
    fn networkpolicy_focus_and_skip() {
        let r = run(
            "NetworkPolicy",
            r"\[Disruptive\]|NoExecuteTaintManager",
            Ending::Complete,
            &[],
        );
        assert_eq!(r.selected(), 39);
        let r = run(r"\[Conformance\]", r"\[Disruptive\]", Ending::Complete, &[]);
        assert_eq!(r.selected(), 418);
    }

    #[test]
    fn crash_hang_and_setup_errors() {
        let r = run(r"\[Conformance\]", "", Ending::Crash, &[]);
        let end = r.progress(Duration::from_secs(1));
        assert_eq!(
            end,
            Progress {
                done: 3,
                exit: Some(2)
            }
        );
        let log = r.log_until(Duration::from_secs(1));
        assert!(log.contains("panic:") && !log.contains("Ran "));
        let r = run(r"\[Conformance\]", "", Ending::Hang, &[]);
        assert_eq!(
            r.progress(Duration::from_secs(3600)),
            Progress {
                done: 3,
                exit: None
            }
        );
        assert_eq!(r.next_change(Duration::from_secs(3600)), None);
        let r = run(r"(Conformance", "", Ending::Complete, &[]);
        assert_eq!(
            r.progress(Duration::ZERO),
            Progress {
                done: 0,
                exit: Some(1)
            }
        );
        assert!(r.log_until(Duration::ZERO).contains("Invalid Focus regex"));
        let old = Run::new(
            Request::default(),
            "v1.23.17",
            Ending::Complete,
            &[],
            Duration::from_secs(1),
            t0(),
        );
        assert!(
            old.log_until(Duration::ZERO)
                .contains("no spec list for v1.23.17")
        );
    }

    #[test]
    fn next_change_walks_spec_by_spec_to_the_end() {
        let r = run("NetworkPolicy", "", Ending::Complete, &[]);
        let first = r.next_change(Duration::ZERO).unwrap();
        assert!(first > Duration::ZERO && first < Duration::from_secs(1));
        assert_eq!(r.next_change(Duration::from_secs(10)), None);
    }
}
