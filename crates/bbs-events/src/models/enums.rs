//! The eight enums of the BBS schema, with their proto value names.

/// An enum of the BBS schema: maps a wire value to its proto value name.
pub trait ProtoEnum {
    /// The proto name of `value` (as the proto3 JSON mapping prints it), or `None` for an unknown value.
    fn name_of(value: i32) -> Option<&'static str>;
}

macro_rules! proto_enums {
    ($(
        $(#[$m:meta])*
        $name:ident ($proto:literal) {
            $( $(#[$vm:meta])* $variant:ident = $value:literal => $wire:literal, )*
        }
    )*) => {$(
        $(#[$m])*
        #[doc = concat!("\n\nThe `", $proto, "` enum of the BBS schema.")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
        #[repr(i32)]
        pub enum $name {
            $( $(#[$vm])* $variant = $value, )*
        }

        impl $name {
            /// The proto name of this value, e.g. as printed by the proto3 JSON mapping.
            pub fn as_str_name(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )*
                }
            }

            /// The value with the proto name `name`, if there is one.
            pub fn from_str_name(name: &str) -> Option<Self> {
                match name {
                    $( $wire => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl ProtoEnum for $name {
            fn name_of(value: i32) -> Option<&'static str> {
                $name::try_from(value).ok().map($name::as_str_name)
            }
        }
    )*};
}

proto_enums! {
    /// Whether an actual LRP is an ordinary instance, an evacuating copy, or a suspect one.
    Presence ("ActualLRP.Presence") {
        /// An ordinary instance.
        Ordinary = 0 => "ORDINARY",
        /// A copy that keeps running while its cell evacuates.
        Evacuating = 1 => "EVACUATING",
        /// An instance whose cell stopped reporting.
        Suspect = 2 => "SUSPECT",
    }

    /// Which address of an instance clients should use.
    PreferredAddress ("ActualLRPNetInfo.PreferredAddress") {
        /// Not stated.
        Unknown = 0 => "UNKNOWN",
        /// The container address.
        Instance = 1 => "INSTANCE",
        /// The host address.
        Host = 2 => "HOST",
    }

    /// The state of a task.
    TaskState ("Task.State") {
        /// No valid state.
        Invalid = 0 => "Invalid",
        /// Waiting for a cell.
        Pending = 1 => "Pending",
        /// Running on a cell.
        Running = 2 => "Running",
        /// Finished, waiting to be resolved.
        Completed = 3 => "Completed",
        /// Being resolved by its owner.
        Resolving = 4 => "Resolving",
    }

    /// The digest algorithm of an image layer.
    DigestAlgorithm ("ImageLayer.DigestAlgorithm") {
        /// No algorithm.
        Invalid = 0 => "DigestAlgorithmInvalid",
        /// SHA-256.
        Sha256 = 1 => "SHA256",
        /// SHA-512.
        Sha512 = 2 => "SHA512",
    }

    /// The archive format of an image layer.
    MediaType ("ImageLayer.MediaType") {
        /// No format.
        Invalid = 0 => "MediaTypeInvalid",
        /// A gzipped tar archive.
        Tgz = 1 => "TGZ",
        /// A tar archive.
        Tar = 2 => "TAR",
        /// A zip archive.
        Zip = 3 => "ZIP",
    }

    /// Whether an image layer is shared between containers or exclusive to one.
    LayerType ("ImageLayer.Type") {
        /// No type.
        Invalid = 0 => "LayerTypeInvalid",
        /// Shared between containers.
        Shared = 1 => "SHARED",
        /// Exclusive to one container.
        Exclusive = 2 => "EXCLUSIVE",
    }

    /// A metric tag value filled in per instance.
    DynamicValue ("MetricTagValue.DynamicValue") {
        /// No dynamic value.
        Invalid = 0 => "DynamicValueInvalid",
        /// The instance index.
        Index = 1 => "INDEX",
        /// The instance guid.
        InstanceGuid = 2 => "INSTANCE_GUID",
    }

    /// How the instances of a desired LRP are replaced when it is updated.
    UpdateStrategy ("DesiredLRP.UpdateStrategy") {
        /// Replace instances a few at a time (the default).
        Rolling = 0 => "ROLLING",
        /// Stop all instances, then start the new ones.
        Recreate = 1 => "RECREATE",
    }
}
