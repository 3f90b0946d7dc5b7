//! Command-line flags (plain `std::env::args` parsing).

use std::net::SocketAddr;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: isogate-spin-host --component PATH.wasm [options]

  --component PATH             the spin-sdk 5.2 component (wasm32-wasip2) to serve (required)
  --listen ADDR                address to listen on (default 127.0.0.1:0 = a free port)
  --sqlite-file PATH           file of SQLite database \"default\" (default: in memory)
  --kv-file PATH               SQLite file backing key-value store \"default\" (default: in memory)
  --sqlite-init FILE.sql       SQL run (execute_batch) against database \"default\" before
                               serving, like `spin up --sqlite @FILE` (repeatable, in order)
  --variable NAME=VALUE        application variable (repeatable); env SPIN_VARIABLE_<NAME> too
  --allowed-outbound-host URL  an allowed_outbound_hosts entry (repeatable), e.g.
                               http://127.0.0.1:9000, https://example.com, http://127.0.0.1:*,
                               http://*:*, *://*:*, https://*.example.com
  --declare-kv-store LABEL     a key-value label that is declared but has no store: opening it
                               answers no-such-store (repeatable)
  --declare-sqlite-database LABEL
                               likewise for SQLite: opening it answers no-such-database
  --exit-on-stdin-eof          exit when standard input reaches end of file (a test that
                               shares one host between tests keeps a pipe to it open, so
                               the host goes away with the test process)
  --log-sql                    print each SQLite statement the component runs to stderr,
                               as `isogate-spin-host: sql: STATEMENT` (no parameters), so
                               a test can count a request's storage statements
  --compile-cache DIR          keep the component's compiled code in DIR and load it from
                               there at the next start with the same component (as
                               `spin up` caches compiled components)
  --stats-listen ADDR          count SQLite statements, key-value calls and instantiations
                               (with their time) and serve the totals as JSON on IP:PORT
                               (for the benchmark, bench/spin.mjs)

When ready, prints exactly one line to stdout:
  isogate-spin-host listening on http://127.0.0.1:PORT";

#[derive(Debug)]
pub struct Args {
    pub component: PathBuf,
    pub listen: SocketAddr,
    pub sqlite_file: Option<PathBuf>,
    pub kv_file: Option<PathBuf>,
    pub sqlite_init: Vec<PathBuf>,
    pub variables: Vec<(String, String)>,
    pub allowed_outbound_hosts: Vec<String>,
    pub declared_kv_stores: Vec<String>,
    pub declared_sqlite_databases: Vec<String>,
    pub exit_on_stdin_eof: bool,
    pub log_sql: bool,
    pub stats_listen: Option<SocketAddr>,
    pub compile_cache: Option<PathBuf>,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut component = None;
        let mut listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut args = Args {
            component: PathBuf::new(),
            listen,
            sqlite_file: None,
            kv_file: None,
            sqlite_init: Vec::new(),
            variables: Vec::new(),
            allowed_outbound_hosts: Vec::new(),
            declared_kv_stores: Vec::new(),
            declared_sqlite_databases: Vec::new(),
            exit_on_stdin_eof: false,
            log_sql: false,
            stats_listen: None,
            compile_cache: None,
        };
        while let Some(flag) = it.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline) = match flag.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (flag, None),
            };
            if flag == "--exit-on-stdin-eof" {
                args.exit_on_stdin_eof = true;
                continue;
            }
            if flag == "--log-sql" {
                args.log_sql = true;
                continue;
            }
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let mut value = || -> Result<String, String> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => it.next().ok_or_else(|| format!("{flag} needs a value")),
                }
            };
            match flag.as_str() {
                "--component" => component = Some(PathBuf::from(value()?)),
                "--listen" => {
                    let v = value()?;
                    listen = v
                        .parse()
                        .map_err(|e| format!("--listen {v:?}: {e} (expected IP:PORT)"))?;
                }
                "--sqlite-file" => args.sqlite_file = Some(PathBuf::from(value()?)),
                "--kv-file" => args.kv_file = Some(PathBuf::from(value()?)),
                "--sqlite-init" => {
                    let v = value()?;
                    // `spin up --sqlite @FILE` spelling is accepted too.
                    let v = v.strip_prefix('@').unwrap_or(&v);
                    args.sqlite_init.push(PathBuf::from(v));
                }
                "--variable" => {
                    let v = value()?;
                    let (name, val) = v
                        .split_once('=')
                        .ok_or_else(|| format!("--variable {v:?}: expected NAME=VALUE"))?;
                    let name = name.to_string();
                    crate::spin_impl::check_variable_name(&name)
                        .map_err(|e| format!("--variable {v:?}: {e}"))?;
                    args.variables.push((name, val.to_string()));
                }
                "--compile-cache" => args.compile_cache = Some(PathBuf::from(value()?)),
                "--stats-listen" => {
                    let v = value()?;
                    args.stats_listen =
                        Some(v.parse().map_err(|e| {
                            format!("--stats-listen {v:?}: {e} (expected IP:PORT)")
                        })?);
                }
                "--allowed-outbound-host" => args.allowed_outbound_hosts.push(value()?),
                "--declare-kv-store" => args.declared_kv_stores.push(value()?),
                "--declare-sqlite-database" => args.declared_sqlite_databases.push(value()?),
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        args.component = component.ok_or("--component PATH.wasm is required")?;
        args.listen = listen;
        Ok(args)
    }
}
