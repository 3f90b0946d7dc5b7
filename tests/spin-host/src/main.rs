//! `isogate-spin-host`: a test double for Spin's host interfaces.
//!
//! It serves one spin-sdk 5.2 component (wasi:http 0.2 `incoming-handler` export, built for
//! `wasm32-wasip2`) on 127.0.0.1 and implements the imports such a component uses:
//! wasi:cli/io/clocks/random (wasmtime-wasi), wasi:http outgoing (wasmtime-wasi-http, behind an
//! `allowed_outbound_hosts` check), and `fermyon:spin/{key-value,sqlite,variables}@2.0.0`.
//! It is NOT Spin: no manifest, no routing, one fresh instance per request. See README.md.

mod allow;
mod args;
mod spin_impl;
mod stats;

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{
    default_send_request, HttpResult, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};
use wasmtime_wasi_http::{WasiHttpCtx, DEFAULT_FORBIDDEN_HEADERS};

use crate::allow::AllowList;
use crate::spin_impl::Shared;

/// Per-request store data.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    hooks: OutboundHooks,
    pub(crate) shared: Arc<Shared>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// wasi:http hooks: Spin's `allowed_outbound_hosts` check, and Spin's treatment of `Host`.
struct OutboundHooks {
    allow: Arc<AllowList>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let uri = request.uri().clone();
        if !self.allow.allows(&uri) {
            eprintln!(
                "isogate-spin-host: outbound request to {uri} denied: not in allowed outbound hosts {}",
                self.allow.describe()
            );
            return Err(ErrorCode::HttpRequestDenied.into());
        }
        // Spin refuses an outgoing request whose Host header differs from the URI's authority
        // (a forwarded incoming Host, typically). Mirror that so tests catch it.
        if let Some(host) = request.headers().get(hyper::header::HOST) {
            let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
            if !host.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) {
                eprintln!(
                    "isogate-spin-host: outbound request to {uri} denied: Host header {host:?} differs from the URI authority"
                );
                return Err(ErrorCode::HttpRequestDenied.into());
            }
        }
        Ok(default_send_request(request, config))
    }

    fn is_forbidden_header(&mut self, name: &http::HeaderName) -> bool {
        // wasmtime forbids `host` by default, which would strip it from incoming requests.
        // Spin hands the client's Host header to the component (host-based routing relies on it).
        name != hyper::header::HOST && DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }
}

struct Server {
    pre: ProxyPre<HostState>,
    shared: Arc<Shared>,
    allow: Arc<AllowList>,
    local_addr: SocketAddr,
}

fn main() {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("isogate-spin-host: {msg}\n\n{}", args::USAGE);
            std::process::exit(2);
        }
    };
    if args.exit_on_stdin_eof {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(args)) {
        eprintln!("isogate-spin-host: error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: args::Args) -> wasmtime::Result<()> {
    let allow = Arc::new(
        AllowList::parse(&args.allowed_outbound_hosts).map_err(|e| wasmtime::format_err!("{e}"))?,
    );
    let shared = Arc::new(Shared::open(&args)?);

    let engine = Engine::default();
    let started = std::time::Instant::now();
    let (component, how) = load_component(&engine, &args)?;
    eprintln!(
        "isogate-spin-host: {how} {} in {:.1} ms",
        args.component.display(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    let mut linker: Linker<HostState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    spin_impl::bindings::SpinImports::add_to_linker::<HostState, HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )?;
    // Spin provides many more interfaces (llm, redis, mqtt, postgres, mysql, spin:sqlite@3,
    // wasi:keyvalue, wasi:config, ...). A component may import them without calling them;
    // calling one of them here traps (→ 500) instead of refusing to start.
    stub_unprovided_imports(&mut linker, &engine, &component)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)
        .context("the component does not export wasi:http/incoming-handler@0.2.x")?;

    if let (Some(addr), Some(stats)) = (args.stats_listen, &shared.stats) {
        stats::serve(addr, stats.clone()).await?;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local_addr = listener.local_addr()?;
    let server = Arc::new(Server {
        pre,
        shared,
        allow,
        local_addr,
    });

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "isogate-spin-host listening on http://{local_addr}")?;
        out.flush()?;
    }

    loop {
        let (stream, client) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("isogate-spin-host: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(req, client).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("isogate-spin-host: connection from {client}: {e}");
            }
        });
    }
}

/// Compiles the component, or with `--compile-cache DIR` loads the machine code compiled for
/// the same bytes by an earlier start (as `spin up` caches compiled components), compiling and
/// storing it on a miss. Returns what it did ("compiled" / "loaded compiled").
fn load_component(
    engine: &Engine,
    args: &args::Args,
) -> wasmtime::Result<(Component, &'static str)> {
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("reading component {}", args.component.display()))?;
    let Some(dir) = &args.compile_cache else {
        let component = Component::new(engine, &bytes)
            .with_context(|| format!("loading component {}", args.component.display()))?;
        return Ok((component, "compiled"));
    };
    use std::hash::{Hash as _, Hasher as _};
    let mut key = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut key);
    let cached = dir.join(format!("{:016x}.cwasm", key.finish()));
    if cached.is_file() {
        // SAFETY: the file was written by `Component::serialize` of this very host binary
        // (the cache is the benchmark's own directory); wasmtime also checks its version and
        // configuration before loading it.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok((component, "loaded compiled"));
        }
    }
    let component = Component::new(engine, &bytes)
        .with_context(|| format!("loading component {}", args.component.display()))?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(&cached, component.serialize()?)
        .with_context(|| format!("writing {}", cached.display()))?;
    Ok((component, "compiled"))
}

/// Whether one of the linked crates (or our bindings) implements the imported interface `name`.
fn is_provided(name: &str) -> bool {
    const WASI_P2: [&str; 7] = [
        "io",
        "clocks",
        "random",
        "filesystem",
        "sockets",
        "cli",
        "http",
    ];
    const SPIN: [&str; 3] = ["key-value", "sqlite", "variables"];
    let Some((iface, version)) = name.split_once('@') else {
        return false;
    };
    if let Some(rest) = iface.strip_prefix("wasi:") {
        let package = rest.split('/').next().unwrap_or("");
        return WASI_P2.contains(&package) && version.starts_with("0.2.");
    }
    if let Some(rest) = iface.strip_prefix("fermyon:spin/") {
        return SPIN.contains(&rest) && version == "2.0.0";
    }
    false
}

/// Defines every import instance that nothing here implements with functions that trap when
/// called (and host resources that are never created). `Linker::define_unknown_imports_as_traps`
/// is unusable here: in wasmtime 47 it re-defines instances that are already present under a
/// semver-compatible name (error "map entry ... defined twice").
fn stub_unprovided_imports(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    use wasmtime::component::types::ComponentItem;
    use wasmtime::component::ResourceType;
    let ty = component.component_type();
    for (name, ext) in ty.imports(engine) {
        if is_provided(name) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = ext.ty else {
            wasmtime::bail!("the component imports `{name}`, which this test host cannot provide");
        };
        eprintln!("isogate-spin-host: `{name}` is not implemented; calling it traps");
        let mut inst = linker.instance(name)?;
        for (item, ext) in instance.exports(engine) {
            match ext.ty {
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{item}");
                    inst.func_new(item, move |_, _, _, _| {
                        wasmtime::bail!("`{what}` is not implemented by isogate-spin-host")
                    })?;
                }
                ComponentItem::Resource(_) => {
                    inst.resource(item, ResourceType::host::<()>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn error_response(status: u16, msg: String) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(msg))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(body)
        .expect("static response")
}

impl Server {
    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> hyper::Response<HyperOutgoingBody> {
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into());
        // RFC 9112 §3.2: a Host that makes no URI is the client's error (400), before any
        // component runs; the 500 below is for a component that failed.
        let req = match self.absolute_request(req, client) {
            Ok(req) => req,
            Err(e) => {
                return error_response(
                    400,
                    format!("isogate-spin-host: bad request: {}\n", e.root_cause()),
                )
            }
        };
        match self.handle_inner(req).await {
            Ok(resp) => resp,
            Err(e) => {
                eprintln!("isogate-spin-host: {method} {path}: {e:#}");
                error_response(
                    500,
                    format!("isogate-spin-host: component failed: {}\n", e.root_cause()),
                )
            }
        }
    }

    async fn handle_inner(
        &self,
        req: hyper::Request<Incoming>,
    ) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
        let stderr = wasmtime_wasi::cli::stderr;
        let wasi = WasiCtx::builder().stdout(stderr()).stderr(stderr()).build();
        let mut store = Store::new(
            self.pre.engine(),
            HostState {
                wasi,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                hooks: OutboundHooks {
                    allow: self.allow.clone(),
                },
                shared: self.shared.clone(),
            },
        );
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        let stats = self.shared.stats.clone();
        if let Some(stats) = &stats {
            stats.request();
        }

        // The guest runs in its own task so that it can keep writing the body after it has
        // handed over the response head. The store (and the instance) die with the task.
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let proxy = pre.instantiate_async(&mut store).await?;
            if let Some(stats) = stats {
                stats.instantiated(started.elapsed());
            }
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });

        match receiver.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => {
                // The guest answered with `response-outparam.set(err(..))`; Spin answers 500.
                Err(wasmtime::format_err!(
                    "the component set an error response: {code:?}"
                ))
            }
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => {
                        wasmtime::format_err!("the component returned without setting a response")
                    }
                    Ok(Err(e)) => e,
                    Err(join) => wasmtime::format_err!("request task failed: {join}"),
                };
                Err(e)
            }
        }
    }

    /// Spin (`route = "/..."`) gives the component the absolute URI built from the Host header,
    /// keeps Host as sent, and adds its `spin-*` request headers.
    fn absolute_request(
        &self,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> wasmtime::Result<hyper::Request<Incoming>> {
        let (mut parts, body) = req.into_parts();
        let authority = match parts.headers.get(hyper::header::HOST) {
            Some(h) => h.to_str().context("Host header is not ASCII")?.to_string(),
            None => match parts.uri.authority() {
                Some(a) => a.to_string(),
                None => self.local_addr.to_string(),
            },
        };
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let full = format!("http://{authority}{path_and_query}");
        parts.uri = full
            .parse::<http::Uri>()
            .with_context(|| format!("invalid request URI {full:?}"))?;
        let path = parts.uri.path().to_string();
        let h = &mut parts.headers;
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        set("spin-full-url", &full);
        set("spin-path-info", &path);
        set("spin-matched-route", "/...");
        set("spin-raw-component-route", "/...");
        set("spin-component-route", "");
        set("spin-base-path", "/");
        set("spin-client-addr", &client.to_string());
        Ok(hyper::Request::from_parts(parts, body))
    }
}
