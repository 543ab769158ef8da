//! How a guest's standard streams are connected: inherited from the launcher, the null
//! device, or an OS pipe (child interpreters whose parent captures a stream).

/// The guest's stdin.
#[derive(Default)]
pub enum Input {
    #[default]
    Inherit,
    Null,
    Pipe(std::fs::File),
}

/// The guest's stdout or stderr (a pipe's writing end can serve both).
#[derive(Default, Clone)]
pub enum Output {
    #[default]
    Inherit,
    Null,
    Pipe(wasmtime_wasi::cli::OutputFile),
}

#[derive(Default)]
pub struct Stdio {
    pub stdin: Input,
    pub stdout: Output,
    pub stderr: Output,
}

/// An OS pipe as (reading end, writing end).
pub fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    let (reader, writer) = std::io::pipe()?;
    Ok((
        std::os::fd::OwnedFd::from(reader).into(),
        std::os::fd::OwnedFd::from(writer).into(),
    ))
}
