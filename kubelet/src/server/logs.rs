//! Container logs from the CRI log files: `<RFC3339Nano> <stream> <P|F> <message>` lines,
//! with upstream's options (tailLines, timestamps, sinceSeconds, limitBytes, follow).

/// One parsed CRI log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub timestamp: &'a str,
    pub stream: &'a str,
    /// false for a partial line (`P`): the message continues in the next entry.
    pub full: bool,
    pub message: &'a str,
}

pub fn parse(line: &str) -> Option<Line<'_>> {
    let mut it = line.splitn(4, ' ');
    let timestamp = it.next()?;
    let stream = it.next()?;
    let tag = it.next()?;
    let message = it.next().unwrap_or("");
    Some(Line {
        timestamp,
        stream,
        full: !tag.starts_with('P'),
        message,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub tail_lines: Option<usize>,
    pub timestamps: bool,
    /// Only lines at or after this RFC 3339 time.
    pub since: Option<String>,
    pub limit_bytes: Option<usize>,
}

/// Formats one entry for the client.
pub fn render(l: &Line<'_>, timestamps: bool) -> String {
    let nl = if l.full { "\n" } else { "" };
    if timestamps {
        format!("{} {}{nl}", l.timestamp, l.message)
    } else {
        format!("{}{nl}", l.message)
    }
}

fn after_since(l: &Line<'_>, since: &Option<String>) -> bool {
    // RFC 3339 UTC timestamps of the same shape compare as strings.
    since.as_ref().is_none_or(|s| l.timestamp >= s.as_str())
}

/// The log file's content as the client sees it (without following).
pub fn read(text: &str, opts: &Options) -> String {
    let lines: Vec<Line<'_>> = text
        .lines()
        .filter_map(parse)
        .filter(|l| after_since(l, &opts.since))
        .collect();
    let start = match opts.tail_lines {
        Some(n) => {
            // Count whole lines (a partial entry belongs to the full one after it).
            let mut full_seen = 0;
            let mut idx = lines.len();
            for (i, l) in lines.iter().enumerate().rev() {
                if l.full {
                    if full_seen == n {
                        break;
                    }
                    full_seen += 1;
                }
                idx = i;
            }
            idx
        }
        None => 0,
    };
    let mut out: String = lines[start..]
        .iter()
        .map(|l| render(l, opts.timestamps))
        .collect();
    if let Some(limit) = opts.limit_bytes
        && out.len() > limit
    {
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-11-21T20:53:45.1Z stdout F one\n2026-11-21T20:53:46.1Z stderr P tw\n2026-11-21T20:53:46.2Z stderr F o\n2026-11-21T20:53:47.1Z stdout F three\n";

    #[test]
    fn parse_and_options() {
        assert_eq!(read(LOG, &Options::default()), "one\ntwo\nthree\n");
        assert_eq!(
            read(
                LOG,
                &Options {
                    tail_lines: Some(2),
                    ..Default::default()
                }
            ),
            "two\nthree\n"
        );
        assert_eq!(
            read(
                LOG,
                &Options {
                    tail_lines: Some(0),
                    ..Default::default()
                }
            ),
            ""
        );
        assert_eq!(
            read(
                LOG,
                &Options {
                    tail_lines: Some(1),
                    timestamps: true,
                    ..Default::default()
                }
            ),
            "2026-11-21T20:53:47.1Z three\n"
        );
        assert_eq!(
            read(
                LOG,
                &Options {
                    since: Some("2026-11-21T20:53:46.5Z".into()),
                    ..Default::default()
                }
            ),
            "three\n"
        );
        assert_eq!(
            read(
                LOG,
                &Options {
                    limit_bytes: Some(5),
                    ..Default::default()
                }
            ),
            "one\nt"
        );
    }
}
