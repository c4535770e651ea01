//! The plugin registry: every `kind` (and `protocol`) a config may name, with the type its
//! keys decode into.
//!
//! Linkerd 1 found its plugins with Java's ServiceLoader; here the binaries call each
//! plugin crate's `register` function with one `Registry`, so a protocol or namer crate
//! adds kinds without the core knowing them. Registering a kind twice is an error, never a
//! silent replacement.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::de::{decode, fields_of};
use super::error::ConfigError;
use super::interpreter::DefaultInterpreter;
use super::keypath::KeyPath;
use super::plugin::{
    AnnouncerConfig, ClassifierConfig, IdentifierConfig, InterfaceConfig, InterpreterConfig, Kind,
    NamerConfig, NoKeys, ProtocolClientConfig, ProtocolRouterConfig, ProtocolServerConfig,
    ProtocolServiceConfig, StorageConfig, TelemeterConfig, TransformerConfig,
};

type Parse<T> = dyn Fn(Value, &KeyPath, Option<&str>) -> Result<T, ConfigError> + Send + Sync;

/// How to decode one kind's keys into a `T`.
pub struct Variant<T> {
    experimental: bool,
    fields: Option<&'static [&'static str]>,
    parse: Box<Parse<T>>,
}

impl<T: 'static> Variant<T> {
    /// Decodes the keys as `S`, then turns `S` into a `T` (an error message from `into`
    /// becomes a config error at the plugin's key path).
    pub fn new<S: DeserializeOwned + 'static>(
        experimental: bool,
        into: fn(S) -> Result<T, String>,
    ) -> Variant<T> {
        Variant {
            experimental,
            fields: fields_of::<S>(),
            parse: Box::new(move |value, path, context| {
                let s = decode::<S>(value, path, context)?;
                into(s).map_err(|m| ConfigError::new(path.clone(), m).in_context(context))
            }),
        }
    }
}

impl<T> Variant<T> {
    /// Whether `experimental: true` is required.
    pub fn is_experimental(&self) -> bool {
        self.experimental
    }

    /// The keys it accepts, when its type is a struct with named fields.
    pub fn fields(&self) -> Option<&'static [&'static str]> {
        self.fields
    }

    pub(crate) fn parse(
        &self,
        value: Value,
        path: &KeyPath,
        context: Option<&str>,
    ) -> Result<T, ConfigError> {
        (self.parse)(value, path, context)
    }
}

/// The kinds of one plugin family (namers, interpreters, ...), by id.
pub struct Family<T> {
    name: &'static str,
    kinds: BTreeMap<String, Variant<T>>,
}

impl<T> Family<T> {
    /// An empty family; `name` (`namer`) appears in error messages.
    pub fn new(name: &'static str) -> Family<T> {
        Family {
            name,
            kinds: BTreeMap::new(),
        }
    }

    /// Adds a kind; a kind already present is an error.
    pub fn add(&mut self, kind: &str, variant: Variant<T>) -> Result<(), RegistryError> {
        if self.kinds.contains_key(kind) {
            return Err(RegistryError::DuplicateKind {
                family: self.name,
                kind: kind.to_owned(),
            });
        }
        self.kinds.insert(kind.to_owned(), variant);
        Ok(())
    }

    /// The family's name, e.g. `namer`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The variant registered for `kind`.
    pub fn get(&self, kind: &str) -> Option<&Variant<T>> {
        self.kinds.get(kind)
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }
}

impl<T> fmt::Debug for Family<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.kinds()).finish()
    }
}

/// A registry that already holds a kind or protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The same `kind` registered twice in one family.
    #[error("{family} kind '{kind}' is registered twice")]
    DuplicateKind {
        /// The family, e.g. `namer`.
        family: &'static str,
        /// The kind id.
        kind: String,
    },
    /// The same protocol registered twice.
    #[error("protocol '{0}' is registered twice")]
    DuplicateProtocol(String),
}

/// One router protocol: its default port, its own router, server, client and service keys,
/// and the identifier and response classifier kinds its routers accept.
pub struct Protocol {
    name: String,
    experimental: bool,
    default_port: u16,
    pub(crate) router: Variant<Box<dyn ProtocolRouterConfig>>,
    pub(crate) server: Variant<Box<dyn ProtocolServerConfig>>,
    pub(crate) client: Variant<Box<dyn ProtocolClientConfig>>,
    pub(crate) service: Variant<Box<dyn ProtocolServiceConfig>>,
    pub(crate) identifiers: Option<Family<Box<dyn IdentifierConfig>>>,
    pub(crate) default_identifier: Option<String>,
    pub(crate) classifiers: Family<Box<dyn ClassifierConfig>>,
    pub(crate) default_classifier: Option<String>,
}

impl Protocol {
    /// A protocol with no keys of its own, no identifier and no classifier kinds yet.
    pub fn new(name: &str, default_port: u16) -> Protocol {
        Protocol {
            name: name.to_owned(),
            experimental: false,
            default_port,
            router: Variant::new::<NoKeys>(false, |k| Ok(Box::new(k))),
            server: Variant::new::<NoKeys>(false, |k| Ok(Box::new(k))),
            client: Variant::new::<NoKeys>(false, |k| Ok(Box::new(k))),
            service: Variant::new::<NoKeys>(false, |k| Ok(Box::new(k))),
            identifiers: None,
            default_identifier: None,
            classifiers: Family::new("response classifier"),
            default_classifier: None,
        }
    }

    /// Requires `experimental: true` on routers of this protocol.
    pub fn set_experimental(&mut self) -> &mut Protocol {
        self.experimental = true;
        self
    }

    /// The protocol's own router keys.
    pub fn set_router<R: DeserializeOwned + ProtocolRouterConfig>(&mut self) -> &mut Protocol {
        self.router = Variant::new::<R>(false, |r| {
            r.validate()?;
            Ok(Box::new(r))
        });
        self
    }

    /// The protocol's own server keys.
    pub fn set_server<S: DeserializeOwned + ProtocolServerConfig>(&mut self) -> &mut Protocol {
        self.server = Variant::new::<S>(false, |s| {
            s.validate()?;
            Ok(Box::new(s))
        });
        self
    }

    /// The protocol's own client keys.
    pub fn set_client<C: DeserializeOwned + ProtocolClientConfig>(&mut self) -> &mut Protocol {
        self.client = Variant::new::<C>(false, |c| {
            c.validate()?;
            Ok(Box::new(c))
        });
        self
    }

    /// The protocol's own service keys.
    pub fn set_service<S: DeserializeOwned + ProtocolServiceConfig>(&mut self) -> &mut Protocol {
        self.service = Variant::new::<S>(false, |s| {
            s.validate()?;
            Ok(Box::new(s))
        });
        self
    }

    /// Adds an identifier kind; routers of a protocol with identifier kinds accept an
    /// `identifier` key (one identifier or a list).
    pub fn add_identifier<T: Kind + IdentifierConfig>(&mut self) -> Result<(), RegistryError> {
        let family = self
            .identifiers
            .get_or_insert_with(|| Family::new("identifier"));
        family.add(
            T::KIND,
            Variant::new::<T>(T::EXPERIMENTAL, |t| {
                t.validate()?;
                Ok(Box::new(t))
            }),
        )
    }

    /// Adds an identifier kind decoded by `variant` (for one type serving several kinds).
    pub fn add_identifier_variant(
        &mut self,
        kind: &str,
        variant: Variant<Box<dyn IdentifierConfig>>,
    ) -> Result<(), RegistryError> {
        self.identifiers
            .get_or_insert_with(|| Family::new("identifier"))
            .add(kind, variant)
    }

    /// The identifier used when a router names none.
    pub fn set_default_identifier(&mut self, kind: &str) -> &mut Protocol {
        self.default_identifier = Some(kind.to_owned());
        self
    }

    /// Adds a response classifier kind.
    pub fn add_classifier<T: Kind + ClassifierConfig>(&mut self) -> Result<(), RegistryError> {
        self.classifiers.add(
            T::KIND,
            Variant::new::<T>(T::EXPERIMENTAL, |t| {
                t.validate()?;
                Ok(Box::new(t))
            }),
        )
    }

    /// Adds a response classifier kind decoded by `variant` (for one type serving several
    /// kinds).
    pub fn add_classifier_variant(
        &mut self,
        kind: &str,
        variant: Variant<Box<dyn ClassifierConfig>>,
    ) -> Result<(), RegistryError> {
        self.classifiers.add(kind, variant)
    }

    /// The response classifier used when a service names none.
    pub fn set_default_classifier(&mut self, kind: &str) -> &mut Protocol {
        self.default_classifier = Some(kind.to_owned());
        self
    }

    /// The protocol's name, e.g. `http`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The port servers listen on when the config names none.
    pub fn default_port(&self) -> u16 {
        self.default_port
    }

    /// Whether routers must say `experimental: true`.
    pub fn is_experimental(&self) -> bool {
        self.experimental
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protocol")
            .field("name", &self.name)
            .field("default_port", &self.default_port)
            .field("identifiers", &self.identifiers)
            .field("classifiers", &self.classifiers)
            .finish()
    }
}

/// Every plugin a config may name.
#[derive(Debug)]
pub struct Registry {
    pub(crate) protocols: BTreeMap<String, Protocol>,
    pub(crate) namers: Family<Box<dyn NamerConfig>>,
    pub(crate) interpreters: Family<Box<dyn InterpreterConfig>>,
    pub(crate) transformers: Family<Box<dyn TransformerConfig>>,
    pub(crate) telemeters: Family<Box<dyn TelemeterConfig>>,
    pub(crate) announcers: Family<Box<dyn AnnouncerConfig>>,
    pub(crate) storage: Family<Box<dyn StorageConfig>>,
    pub(crate) interfaces: Family<Box<dyn InterfaceConfig>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

macro_rules! adder {
    ($(#[$doc:meta])* $fn:ident, $field:ident, $trait:ident) => {
        $(#[$doc])*
        pub fn $fn<T: Kind + $trait>(&mut self) -> Result<(), RegistryError> {
            self.$field.add(
                T::KIND,
                Variant::new::<T>(T::EXPERIMENTAL, |t| {
                    t.validate()?;
                    Ok(Box::new(t))
                }),
            )
        }
    };
}

impl Registry {
    /// A registry holding what the core provides: the `default` interpreter.
    pub fn new() -> Registry {
        let mut reg = Registry {
            protocols: BTreeMap::new(),
            namers: Family::new("namer"),
            interpreters: Family::new("interpreter"),
            transformers: Family::new("transformer"),
            telemeters: Family::new("telemeter"),
            announcers: Family::new("announcer"),
            storage: Family::new("storage"),
            interfaces: Family::new("interface"),
        };
        // An empty registry cannot hold `default` already.
        let _ = reg.add_interpreter::<DefaultInterpreter>();
        reg
    }

    /// Adds a router protocol.
    pub fn add_protocol(&mut self, protocol: Protocol) -> Result<(), RegistryError> {
        if self.protocols.contains_key(protocol.name()) {
            return Err(RegistryError::DuplicateProtocol(protocol.name().to_owned()));
        }
        self.protocols.insert(protocol.name().to_owned(), protocol);
        Ok(())
    }

    /// A registered protocol.
    pub fn protocol(&self, name: &str) -> Option<&Protocol> {
        self.protocols.get(name)
    }

    /// A registered protocol, to add identifier or classifier kinds to it.
    pub fn protocol_mut(&mut self, name: &str) -> Option<&mut Protocol> {
        self.protocols.get_mut(name)
    }

    /// The registered protocol names, sorted.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.protocols.keys().map(String::as_str)
    }

    adder!(
        /// Adds a namer kind.
        add_namer, namers, NamerConfig
    );
    adder!(
        /// Adds an interpreter kind.
        add_interpreter, interpreters, InterpreterConfig
    );
    adder!(
        /// Adds a transformer kind.
        add_transformer, transformers, TransformerConfig
    );
    adder!(
        /// Adds a telemeter kind.
        add_telemeter, telemeters, TelemeterConfig
    );
    adder!(
        /// Adds an announcer kind.
        add_announcer, announcers, AnnouncerConfig
    );
    adder!(
        /// Adds a namerd storage kind.
        add_storage, storage, StorageConfig
    );
    adder!(
        /// Adds a namerd interface kind.
        add_interface, interfaces, InterfaceConfig
    );

    /// The namer kinds.
    pub fn namers(&self) -> &Family<Box<dyn NamerConfig>> {
        &self.namers
    }

    /// The interpreter kinds.
    pub fn interpreters(&self) -> &Family<Box<dyn InterpreterConfig>> {
        &self.interpreters
    }

    /// The transformer kinds.
    pub fn transformers(&self) -> &Family<Box<dyn TransformerConfig>> {
        &self.transformers
    }

    /// The telemeter kinds.
    pub fn telemeters(&self) -> &Family<Box<dyn TelemeterConfig>> {
        &self.telemeters
    }

    /// The announcer kinds.
    pub fn announcers(&self) -> &Family<Box<dyn AnnouncerConfig>> {
        &self.announcers
    }

    /// The namerd storage kinds.
    pub fn storage(&self) -> &Family<Box<dyn StorageConfig>> {
        &self.storage
    }

    /// The namerd interface kinds.
    pub fn interfaces(&self) -> &Family<Box<dyn InterfaceConfig>> {
        &self.interfaces
    }
}
