//! The `basalt` command: serve (default), migrate, doctor, deploy.

use std::process::ExitCode;
use std::time::Instant;

use basalt::config::{Cli, Command, Config};
use basalt::state::AppState;
use clap::Parser;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        // Colours only on a terminal: a log file or collector gets plain lines.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match Config::resolve(cli.options, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("basalt: {e}");
            return ExitCode::from(2);
        }
    };
    // One worker per core (tokio's default; TOKIO_WORKER_THREADS overrides it).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("basalt: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config, started)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("basalt: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config, started: Instant) -> Result<(), String> {
    match command {
        Command::Migrate => {
            AppState::new(config.clone()).await?;
            println!("migrations applied to {}", config.database.display());
            Ok(())
        }
        Command::Doctor => {
            let state = AppState::new(config.clone()).await?;
            state
                .storage
                .ping()
                .await
                .map_err(|e| format!("database {}: {e}", config.database.display()))?;
            println!("database     {} (ok)", config.database.display());
            println!("app id       {}", config.app_id);
            println!("server url   {}", config.server_url);
            println!("classes      {}", state.schemas.all().len());
            Ok(())
        }
        Command::Deploy => {
            let answer = basalt::cloud::deploy::push(&config).await?;
            println!("{answer}");
            Ok(())
        }
        Command::Serve => serve(config, started).await,
    }
}

async fn serve(config: Config, started: Instant) -> Result<(), String> {
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    if config.generated_master_key {
        println!(
            "Generated a master key (kept in {}): {}",
            config.data_dir.join("master.key").display(),
            config.master_key
        );
    }
    let state = AppState::new(config.clone()).await?;
    basalt::cloud::start(&state).await?;
    tracing::info!(
        url = %config.server_url,
        database = %config.database.display(),
        app_id = %config.app_id,
        startup_ms = started.elapsed().as_millis() as u64,
        "basalt is serving"
    );
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return,
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    basalt::http::serve(state, listener, shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))
}
