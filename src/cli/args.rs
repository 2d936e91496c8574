//! Argument definitions (clap) and dispatch to the command modules.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{CmdResult, Exit, Failure};
use crate::registry::RegistriesConf;

/// Mirror container content into disconnected Kubernetes and OpenShift clusters.
#[derive(Debug, Parser)]
#[command(name = "airlift", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// Recipe file (like `make -f`).
    #[arg(
        short = 'f',
        long = "recipe",
        global = true,
        default_value = "airlift.kdl"
    )]
    pub recipe: PathBuf,
    /// Workspace directory (default: `.airlift/` beside the recipe).
    #[arg(long, global = true)]
    pub workspace: Option<PathBuf>,
    /// Registry auth file (default search: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).
    #[arg(long, global = true)]
    pub authfile: Option<PathBuf>,
    /// containers-registries.conf(5) file (v2, or v1 tables) whose mirrors, `location` rewrites,
    /// `blocked` and `insecure` apply to reads from sources, never to writes (default:
    /// $CONTAINERS_REGISTRIES_CONF; /etc/containers/registries.conf is never read on its own).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "CONTAINERS_REGISTRIES_CONF",
        hide_env_values = true
    )]
    pub registries_conf: Option<PathBuf>,
    /// The loaded `--registries-conf`, set by [`Cli::run`] before any command runs.
    #[arg(skip)]
    pub registries: Option<Arc<RegistriesConf>>,
    /// Verify TLS of source registries; `=false` also allows plain HTTP.
    #[arg(long, global = true, default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    pub src_tls_verify: bool,
    /// Verify TLS of destination registries; `=false` also allows plain HTTP.
    #[arg(long, global = true, default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    pub dest_tls_verify: bool,
    /// Directory of extra CA certificates (`*.crt`, `*.pem`).
    #[arg(long, global = true)]
    pub cert_dir: Option<PathBuf>,
    /// Global transfer concurrency (default 8, or the highest per-registry ceiling if higher).
    #[arg(long, global = true)]
    pub jobs: Option<usize>,
    /// Transfers at once to one registry: `HOST=N` for that host (over the recipe's `registry`
    /// node), or `N` for every other registry (default 6); repeatable. `--jobs` bounds all.
    #[arg(long, global = true, value_name = "[HOST=]N")]
    pub registry_concurrency: Vec<crate::pipeline::RegistryConcurrency>,
    /// Fail if resolution differs from airlift.lock.
    #[arg(long, global = true)]
    pub locked: bool,
    /// Use the lock and stored responses only; no network for resolution.
    #[arg(long, global = true)]
    pub offline: bool,
    /// `build`/`plan` of file:// targets: write one archive with everything their archives
    /// shipped since DATE (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC), for a lost transfer.
    #[arg(long, global = true, value_name = "DATE", value_parser = crate::pipeline::parse_date)]
    pub since: Option<i64>,
    /// How progress and results are reported: `human` lines on stderr, or `json` events (one
    /// object per line) on stdout.
    #[arg(long, global = true, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Explain more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl GlobalOpts {
    /// The pipeline's view of these flags.
    pub fn options(&self) -> crate::pipeline::Options {
        crate::pipeline::Options {
            recipe: self.recipe.clone(),
            workspace: self.workspace.clone(),
            authfile: self.authfile.clone(),
            registries: self.registries.clone(),
            src_tls_verify: self.src_tls_verify,
            dest_tls_verify: self.dest_tls_verify,
            cert_dir: self.cert_dir.clone(),
            jobs: self.jobs,
            registry_concurrency: self.registry_concurrency.clone(),
            locked: self.locked,
            offline: self.offline,
            quiet: self.quiet,
            since: self.since,
        }
    }

    /// The reporter's format.
    pub fn report_format(&self) -> crate::exec::MessageFormat {
        match self.message_format {
            MessageFormat::Json => crate::exec::MessageFormat::Json,
            MessageFormat::Human => crate::exec::MessageFormat::Human,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
    /// A self-contained page drawing the task graph, copies of a set collapsed into one node.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DescribeFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    Releases,
    Operators,
    Packages,
    /// One package's bundles per channel (`--catalog`, `--package`, optional `--channel`).
    Bundles,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter airlift.kdl.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Parse and validate recipes without touching the network.
    Check {
        /// Recipe files (default: the -f recipe).
        files: Vec<PathBuf>,
    },
    /// Resolve tags, channels and catalogs to digests and write airlift.lock.
    Lock,
    /// Re-resolve the named content sets (all when none) and rewrite airlift.lock.
    Update { names: Vec<String> },
    /// Show what `build` would do and why, without changing anything.
    Plan {
        targets: Vec<String>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Run the task graph for the targets and what they need.
    #[command(visible_alias = "mirror")]
    Build {
        targets: Vec<String>,
        /// Skip the destination HEAD check for tasks the state records as done.
        #[arg(long)]
        trust_state: bool,
        /// Do not copy cosign attachments and OCI referrers with their subjects.
        #[arg(long)]
        no_signatures: bool,
        /// Skip signature verification (loudly).
        #[arg(long)]
        no_verify: bool,
        /// Let a blob larger than archive-size span chunks (file:// targets).
        #[arg(long)]
        split_blobs: bool,
        /// Run the K-th of N deterministic shares of the registry copies (K/N, K from 1), in
        /// parallel with the other shards on one workspace; each blob is uploaded by one shard.
        #[arg(long, value_name = "K/N", conflicts_with = "shards_done")]
        shard: Option<crate::plan::Shard>,
        /// After all N shards finished: merge their records, check every image at the
        /// destination, and do the rest (release payloads, resources, lock, archives, catalog
        /// rebuilds).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        shards_done: Option<u32>,
        /// Also write a Markdown summary of the build to FILE (counts, bytes, what changed in
        /// the lock, failures with their help), for a CI job summary; written when the build
        /// fails too.
        #[arg(long, value_name = "FILE")]
        summary_md: Option<std::path::PathBuf>,
        /// Write a timings page (HTML, self-contained) and its data (JSON) to
        /// <workspace>/out/<target>/timings/: every task on a timeline, requests, retries and
        /// throttling per registry, concurrency over time, the slowest tasks and blobs.
        #[arg(long)]
        timings: bool,
    },
    /// Render cluster resources from what a target holds.
    Resources {
        target: String,
        /// Also write a legacy ImageContentSourcePolicy.
        #[arg(long)]
        icsp: bool,
    },
    /// Plan a deletion (writes out/<target>/delete/delete-images.yaml, deletes nothing);
    /// with --execute, delete exactly what that reviewed list names.
    Delete {
        /// A `delete` set of the recipe.
        name: String,
        /// Delete what the reviewed list names (refused if the lock or the list changed).
        #[arg(long)]
        execute: bool,
    },
    /// Check that everything the lock promises is present and correct at a target.
    Verify { target: String },
    /// Discover releases, operators, a catalog's packages or a package's bundles.
    List {
        #[arg(value_enum)]
        what: ListWhat,
        /// `list releases`: the versions of this channel (else the channels); `list bundles`:
        /// the bundles of this channel only.
        #[arg(long)]
        channel: Option<String>,
        /// `list releases`: the architecture (default amd64).
        #[arg(long)]
        arch: Option<String>,
        /// `list operators`/`packages`/`bundles`: the catalog image or `oci://DIR`.
        #[arg(long)]
        catalog: Option<String>,
        /// `list operators`/`packages`: one package's channels and heads; `list bundles`: the
        /// package whose bundles to list.
        #[arg(long)]
        package: Option<String>,
    },
    /// Describe an archive directory: its series of archives, chunks and what each holds.
    Describe {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = DescribeFormat::Text)]
        format: DescribeFormat,
    },
    /// Show what changes between two lock files.
    Diff { old: PathBuf, new: PathBuf },
    /// Convert an oc-mirror ImageSetConfiguration or DeleteImageSetConfiguration (v1alpha2,
    /// v2alpha1) to a recipe; what cannot be carried over is a warning naming its line.
    Import {
        /// The YAML file (`-` reads stdin).
        file: PathBuf,
        /// Write the recipe here (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The target: `docker://HOST[:PORT]/NAMESPACE` (mirror-to-mirror, and where a delete
        /// deletes from) or `file://DIR` (mirror-to-disk archives; the default, `file://mirror`).
        #[arg(long, value_name = "URL")]
        to: Option<String>,
        /// Overwrite an existing --output file.
        #[arg(long)]
        force: bool,
    },
    /// Take `openshift-install` or `oc` out of a release the target holds (`oc adm release
    /// extract --command`); the installer installs the mirrored payload.
    Extract {
        /// A registry target of the recipe.
        target: String,
        /// The release version, e.g. 4.15.3.
        #[arg(long, value_name = "VERSION")]
        release: String,
        /// `openshift-install` or `oc`.
        #[arg(long)]
        command: String,
        /// The payload's architecture.
        #[arg(long, default_value = "amd64")]
        arch: String,
        /// Directory to write the tool into.
        #[arg(long, default_value = ".")]
        to: PathBuf,
    },
    /// Convert ImageContentSourcePolicy files to ImageDigestMirrorSet.
    ConvertIcsp {
        files: Vec<PathBuf>,
        #[arg(long)]
        dest_dir: Option<PathBuf>,
    },
}

impl Command {
    /// The subcommand's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init { .. } => "init",
            Command::Check { .. } => "check",
            Command::Lock => "lock",
            Command::Update { .. } => "update",
            Command::Plan { .. } => "plan",
            Command::Build { .. } => "build",
            Command::Resources { .. } => "resources",
            Command::Delete { .. } => "delete",
            Command::Verify { .. } => "verify",
            Command::List { .. } => "list",
            Command::Describe { .. } => "describe",
            Command::Diff { .. } => "diff",
            Command::Import { .. } => "import",
            Command::ConvertIcsp { .. } => "convert-icsp",
            Command::Extract { .. } => "extract",
        }
    }
}

/// Commands each behaviour-changing global flag applies to. Elsewhere the flag is refused
/// rather than silently ignored. Connection settings (`--authfile`, `--registries-conf`, the TLS
/// flags, `--cert-dir`), `-f`, `--workspace` and `-q` are settings for whatever the command
/// reads and are accepted everywhere. `--offline` (no network for resolution) is accepted
/// everywhere: commands that resolve nothing honour it by nature; `lock`/`update` and the
/// catalog listings, which cannot work without resolving, refuse it themselves.
pub const APPLIES: &[(&str, &[&str])] = &[
    (
        "--jobs",
        &["plan", "build", "lock", "update", "delete", "verify"],
    ),
    (
        "--registry-concurrency",
        &["plan", "build", "lock", "update", "delete", "verify"],
    ),
    ("--locked", &["plan", "build", "lock", "update", "delete"]),
    ("--message-format json", &["build", "delete"]),
    ("--verbose", &["plan", "check"]),
];

impl Cli {
    /// A behaviour-changing global flag given to a command it does nothing for (see
    /// [`APPLIES`]), with the commands it applies to.
    fn inapplicable_flag(&self) -> Option<(&'static str, String)> {
        let g = &self.global;
        let given = [
            ("--jobs", g.jobs.is_some()),
            ("--registry-concurrency", !g.registry_concurrency.is_empty()),
            ("--locked", g.locked),
            (
                "--message-format json",
                g.message_format == MessageFormat::Json,
            ),
            ("--verbose", g.verbose > 0),
        ];
        let name = self.command.name();
        given.iter().filter(|(_, on)| *on).find_map(|(flag, _)| {
            let (_, commands) = APPLIES.iter().find(|(f, _)| f == flag)?;
            (!commands.contains(&name)).then(|| {
                let list: Vec<String> = commands.iter().map(|c| format!("`{c}`")).collect();
                (*flag, list.join(", "))
            })
        })
    }

    pub fn run(mut self) -> CmdResult {
        if self.global.since.is_some()
            && !matches!(self.command, Command::Build { .. } | Command::Plan { .. })
        {
            return Err(Failure::new(
                Exit::Usage,
                miette::miette!(
                    help = "use it with `airlift build` (or `airlift plan`) of a file:// target",
                    "--since applies to `build` and `plan`, not to `{}`",
                    self.command.name()
                ),
            ));
        }
        if let Some((flag, applies)) = self.inapplicable_flag() {
            return Err(Failure::new(
                Exit::Usage,
                miette::miette!(
                    help = format!("{flag} applies to {applies}; leave it out here"),
                    "{flag} does nothing for `airlift {}`",
                    self.command.name()
                ),
            ));
        }
        // Loaded before anything else, so a missing or invalid file stops every command
        // before it reads a recipe or touches the network.
        if let Some(path) = &self.global.registries_conf {
            let conf = RegistriesConf::load(path)
                .map_err(|e| Failure::unreadable_or_invalid(e.is_io(), e))?;
            self.global.registries = Some(Arc::new(conf));
        }
        if let Command::List {
            what,
            channel,
            arch,
            catalog,
            package,
        } = &self.command
        {
            let releases = matches!(what, ListWhat::Releases);
            let bundles = matches!(what, ListWhat::Bundles);
            let wrong: Vec<&str> = [
                ("--channel", channel.is_some() && !releases && !bundles),
                ("--arch", arch.is_some() && !releases),
                ("--catalog", catalog.is_some() && releases),
                ("--package", package.is_some() && releases),
                // A catalog in a registry is read over the network; a layout is local.
                (
                    "--offline",
                    self.global.offline
                        && !releases
                        && !catalog.as_deref().is_some_and(|c| c.starts_with("oci://")),
                ),
            ]
            .iter()
            .filter(|(_, bad)| *bad)
            .map(|(flag, _)| *flag)
            .collect();
            if !wrong.is_empty() {
                return Err(Failure::new(
                    Exit::Usage,
                    miette::miette!(
                        help = "`list releases` takes --channel and --arch; `list operators` and `list packages` take --catalog and --package; `list bundles` takes --catalog, --package and --channel",
                        "{} do(es) not apply to this `list`",
                        wrong.join(", ")
                    ),
                ));
            }
        }
        match &self.command {
            Command::Init { force } => super::init::run(&self.global, *force),
            Command::Check { files } => super::check::run(&self.global, files),
            Command::Diff { old, new } => super::diff::run(old, new),
            Command::Plan { targets, format } => super::plan::run(&self.global, targets, *format),
            Command::Build {
                targets,
                trust_state,
                no_signatures,
                no_verify,
                split_blobs,
                shard,
                shards_done,
                summary_md,
                timings,
            } => super::build::run(
                &self.global,
                &super::build::BuildArgs {
                    targets,
                    trust_state: *trust_state,
                    no_signatures: *no_signatures,
                    no_verify: *no_verify,
                    split_blobs: *split_blobs,
                    shard: *shard,
                    shards_done: *shards_done,
                    summary_md: summary_md.as_deref(),
                    timings: *timings,
                },
            ),
            Command::Lock => super::lock::run(&self.global, &[]),
            Command::Update { names } => super::lock::run(&self.global, names),
            Command::Verify { target } => super::verify::run(&self.global, target),
            Command::Resources { target, icsp } => {
                super::resources::run(&self.global, target, *icsp)
            }
            Command::List {
                what: ListWhat::Releases,
                channel,
                arch,
                ..
            } => super::list::releases(&self.global, channel.as_deref(), arch.as_deref()),
            Command::List {
                what: ListWhat::Operators | ListWhat::Packages,
                catalog,
                package,
                ..
            } => super::list_operators::operators(
                &self.global,
                catalog.as_deref(),
                package.as_deref(),
            ),
            Command::List {
                what: ListWhat::Bundles,
                catalog,
                package,
                channel,
                ..
            } => super::list_operators::bundles(
                &self.global,
                catalog.as_deref(),
                package.as_deref(),
                channel.as_deref(),
            ),
            Command::Describe { dir, format } => super::describe::run(dir, *format),
            Command::Import {
                file,
                output,
                to,
                force,
            } => super::import::run(&self.global, file, output.as_deref(), to.as_deref(), *force),
            Command::Delete { name, execute } => super::delete::run(&self.global, name, *execute),
            Command::Extract {
                target,
                release,
                command,
                arch,
                to,
            } => super::extract::run(&self.global, target, release, command, arch, to),
            Command::ConvertIcsp { files, dest_dir } => {
                super::convert_icsp::run(files, dest_dir.as_deref())
            }
        }
    }
}
