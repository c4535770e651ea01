//! The traits a plugin's config implements, one per family, and what `build` is given.
//!
//! A plugin is a config struct (derived `Deserialize` with `deny_unknown_fields,
//! rename_all = "camelCase"`) that names its `kind` through [`Kind`] and implements its
//! family's trait. The core decodes it, runs its `validate`, and keeps it boxed; `build`
//! turns it into the runtime object. Families whose runtime is protocol-specific
//! (identifiers, response classifiers, a protocol's router, server, client and service
//! keys) are built by the protocol crate, which downcasts to its own types with
//! `downcast_ref`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::error::BuildError;
use crate::binding::{NameInterpreter, SharedNamer, Transformer};
use crate::naming::Path;

/// A plugin's `kind` id, e.g. `io.l5d.fs`.
pub trait Kind: DeserializeOwned + 'static {
    /// The id users write as `kind:` (or `protocol:` for a protocol's parts).
    const KIND: &'static str;
    /// Whether the config must say `experimental: true` to use it (Linkerd 1's
    /// `experimentalRequired`).
    const EXPERIMENTAL: bool = false;
}

/// Any plugin config: debuggable, shareable, and downcastable by the crate that owns it.
pub trait PluginConfig: Any + fmt::Debug + Send + Sync {
    /// This config as `Any`, for downcasting to the plugin's own type.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any + fmt::Debug + Send + Sync> PluginConfig for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What `build` is given. Empty for now; it grows as runtimes need more (a metrics scope,
/// the admin server's handler registry, ...), without changing the trait signatures.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct BuildContext {}

impl BuildContext {
    /// An empty context.
    pub fn new() -> BuildContext {
        BuildContext {}
    }
}

/// What an interpreter's `build` is given.
pub struct InterpreterContext<'a> {
    /// The router's built namers, each with its full mount path (`/#/io.l5d.fs`), in
    /// configuration order.
    pub namers: &'a [(Path, SharedNamer)],
    /// The rest of the build context.
    pub build: &'a BuildContext,
}

macro_rules! family {
    ($(#[$doc:meta])* $name:ident { $($body:tt)* }) => {
        $(#[$doc])*
        pub trait $name: PluginConfig {
            /// Checks what serde cannot (keys that exclude each other, ranges); the message
            /// becomes a config error at this plugin's key path.
            fn validate(&self) -> Result<(), String> {
                Ok(())
            }
            $($body)*
        }

        impl dyn $name {
            /// This config as the plugin's own type, if it is one.
            pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
                self.as_any().downcast_ref::<T>()
            }
        }
    };
}

family!(
    /// A namer (`namers: - kind: ...`): service discovery mounted under `/#/<prefix>`.
    NamerConfig {
        /// Builds the namer mounted at `mount` (`/#/io.l5d.fs`): the ids of the names it
        /// binds start with it, so that they bind back to the same name.
        fn build(&self, _mount: &Path, _ctx: &BuildContext) -> Result<SharedNamer, BuildError> {
            Err(BuildError::not_implemented())
        }
    }
);

family!(
    /// A name interpreter (`routers[].interpreter`).
    InterpreterConfig {
        /// Builds the interpreter.
        fn build(
            &self,
            _ctx: &InterpreterContext<'_>,
        ) -> Result<Arc<dyn NameInterpreter>, BuildError> {
            Err(BuildError::not_implemented())
        }
    }
);

family!(
    /// A name-tree transformer (`transformers:` on namers and interpreters).
    TransformerConfig {
        /// The prefix under `/%` its ids get when the config names none; `None` means
        /// the kind (`io.l5d.port` says `/io.l5d.port/<port>` instead).
        fn default_prefix(&self) -> Option<Path> {
            None
        }

        /// Builds the transformer; `prefix` is the full path its ids start with
        /// (`/%/io.l5d.localhost`).
        fn build(
            &self,
            _prefix: &Path,
            _ctx: &BuildContext,
        ) -> Result<Arc<dyn Transformer>, BuildError> {
            Err(BuildError::not_implemented())
        }
    }
);
family!(
    /// A telemeter (`telemetry:`).
    TelemeterConfig {}
);
family!(
    /// An announcer (`routers[].announcers`).
    AnnouncerConfig {}
);
family!(
    /// A namerd dtab store (`storage:`).
    StorageConfig {}
);
family!(
    /// A namerd interface (`interfaces:`).
    InterfaceConfig {
        /// The port it listens on when the config names none (4100 for the Thrift
        /// interpreter interface, 4180 for the HTTP controller, ...).
        fn default_port(&self) -> u16;
    }
);
family!(
    /// A protocol's identifier (`routers[].identifier`), built by the protocol crate.
    IdentifierConfig {}
);
family!(
    /// A protocol's response classifier (`service.responseClassifier`), built by the
    /// protocol crate.
    ClassifierConfig {}
);
family!(
    /// A protocol's own router-level keys.
    ProtocolRouterConfig {}
);
family!(
    /// A protocol's own server-level keys.
    ProtocolServerConfig {}
);
family!(
    /// A protocol's own client-level keys.
    ProtocolClientConfig {}
);
family!(
    /// A protocol's own service-level keys.
    ProtocolServiceConfig {}
);

/// The keys of a protocol part that has none of its own.
#[derive(serde::Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NoKeys {}

impl ProtocolRouterConfig for NoKeys {}
impl ProtocolServerConfig for NoKeys {}
impl ProtocolClientConfig for NoKeys {}
impl ProtocolServiceConfig for NoKeys {}
