//! [`AzureBlobLeases`]: the [`LeaseManager`] on Azure Blob Storage (or Azurite).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::prelude::IfMatchCondition;
use azure_core::request_options::{LeaseDuration, LeaseId as AzureLeaseId, ProposedLeaseId};
use azure_core::{ClientOptions, FixedRetryOptions, Policy, RetryOptions, TransportOptions};
use azure_storage::{CloudLocation, ConnectionString, StorageCredentials};
use azure_storage_blobs::prelude::{ClientBuilder, ContainerClient};
use events_core::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::quiet::{QuietTransport, StashSecrets};
use crate::{ConfigError, LeaseError, LeaseId, LeaseManager, Member, Provisioned};

/// Where instances announce their demand: one small blob per instance.
const MEMBERS_PREFIX: &str = "members/";

/// How long a connection to the storage may take to open (a backstop: the limiter times
/// every call itself).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one HTTP request may take at most (a backstop, as above).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The account name of the storage emulator (a published, well-known value).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";

/// How to authenticate to the storage account.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A shared account key (needs the account name).
    AccountKey(String),
    /// A full connection string; it names the account and may name the blob endpoint.
    ConnectionString(String),
    /// A shared access signature token (needs the account name).
    Sas(String),
    /// The emulator's well-known account and key; set the endpoint for a non-default port.
    Emulator,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::AccountKey(_) => "AccountKey(<redacted>)",
            Credentials::ConnectionString(_) => "ConnectionString(<redacted>)",
            Credentials::Sas(_) => "Sas(<redacted>)",
            Credentials::Emulator => "Emulator",
        })
    }
}

/// Where and how to reach the container of partition blobs.
#[derive(Debug, Clone)]
pub struct AzureStorage {
    /// The storage account name (taken from the connection string when absent).
    pub account: Option<String>,
    /// The container holding the partition blobs.
    pub container: String,
    /// The credentials.
    pub credentials: Credentials,
    /// A custom blob endpoint such as `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: Option<String>,
    /// How many times the SDK retries a failed call (a short fixed delay); 0 for none.
    pub max_retries: u32,
}

/// Partition leases kept as zero-byte blobs `"0"`, `"1"`, … in one Azure Blob container.
#[derive(Clone)]
pub struct AzureBlobLeases {
    container: ContainerClient,
    location: String,
}

impl fmt::Debug for AzureBlobLeases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobLeases")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn credentials_error(what: &'static str, err: impl fmt::Display) -> ConfigError {
    ConfigError::Credentials {
        what,
        reason: err.to_string(),
    }
}

fn need_account(account: Option<String>) -> Result<String, ConfigError> {
    account.ok_or(ConfigError::Missing {
        setting: "account name",
        fix: "call .account(name) on the builder (only a connection string names it itself)",
    })
}

fn custom_or_public(account: String, endpoint: Option<String>) -> CloudLocation {
    match endpoint {
        Some(uri) => CloudLocation::Custom {
            account,
            uri: uri.trim_end_matches('/').to_owned(),
        },
        None => CloudLocation::Public { account },
    }
}

impl AzureBlobLeases {
    /// Builds a client for the container described by `storage`; makes no network call.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the account name is missing or the credentials cannot be parsed.
    pub fn new(storage: AzureStorage) -> Result<Self, ConfigError> {
        let AzureStorage {
            account,
            container,
            credentials,
            endpoint,
            max_retries,
        } = storage;
        if container.is_empty() {
            return Err(ConfigError::Missing {
                setting: "container name",
                fix: "call .container(name) on the builder",
            });
        }
        let (location, creds) = match credentials {
            Credentials::AccountKey(key) => {
                let account = need_account(account)?;
                let creds = StorageCredentials::access_key(account.clone(), key);
                (custom_or_public(account, endpoint), creds)
            }
            Credentials::Sas(token) => {
                let account = need_account(account)?;
                let creds = StorageCredentials::sas_token(token)
                    .map_err(|e| credentials_error("SAS token", e))?;
                (custom_or_public(account, endpoint), creds)
            }
            Credentials::Emulator => {
                let account = account.unwrap_or_else(|| EMULATOR_ACCOUNT.to_owned());
                let location = match endpoint {
                    Some(uri) => CloudLocation::Custom {
                        account,
                        uri: uri.trim_end_matches('/').to_owned(),
                    },
                    None => CloudLocation::Emulator {
                        address: "127.0.0.1".to_owned(),
                        port: 10000,
                    },
                };
                (location, StorageCredentials::emulator())
            }
            Credentials::ConnectionString(text) => {
                let cs = ConnectionString::new(&text)
                    .map_err(|e| credentials_error("connection string", e))?;
                let creds = cs
                    .storage_credentials()
                    .map_err(|e| credentials_error("connection string", e))?;
                let dev = cs.use_development_storage == Some(true);
                let account = match (cs.account_name, account, dev) {
                    (Some(name), _, _) => name.to_owned(),
                    (None, Some(name), _) => name,
                    (None, None, true) => EMULATOR_ACCOUNT.to_owned(),
                    (None, None, false) => need_account(None)?,
                };
                let endpoint = endpoint.or_else(|| cs.blob_endpoint.map(str::to_owned));
                let location = match (endpoint, cs.endpoint_suffix, dev) {
                    (Some(uri), _, _) => custom_or_public(account, Some(uri)),
                    (None, _, true) => CloudLocation::Emulator {
                        address: "127.0.0.1".to_owned(),
                        port: 10000,
                    },
                    (None, Some(suffix), false) => CloudLocation::Custom {
                        uri: format!("https://{account}.blob.{suffix}"),
                        account,
                    },
                    (None, None, false) => CloudLocation::Public { account },
                };
                (location, creds)
            }
        };
        // Lease timing must stay predictable: the limiter times every call itself, so the
        // SDK may only retry a few times after a short fixed delay (never its default of up
        // to a minute of exponential back-off).
        let retry = if max_retries == 0 {
            RetryOptions::none()
        } else {
            RetryOptions::fixed(
                FixedRetryOptions::default()
                    .max_retries(max_retries)
                    .delay(Duration::from_millis(100))
                    .max_total_elapsed(Duration::from_secs(2)),
            )
        };
        // Our own transport, so that no secret reaches the SDK's request logs.
        let transport = QuietTransport::new(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
            .map_err(|e| credentials_error("HTTP client", e))?;
        let stash: Arc<dyn Policy> = Arc::new(StashSecrets);
        let options = ClientOptions::new(TransportOptions::new_custom_policy(Arc::new(transport)))
            .retry(retry)
            .per_retry_policies(vec![stash]);
        let client = ClientBuilder::with_location(location, creds)
            .client_options(options)
            .container_client(container);
        let location = client
            .url()
            .map_err(|e| credentials_error("endpoint", e))?
            .to_string();
        Ok(AzureBlobLeases {
            container: client,
            location,
        })
    }
}

/// Maps an SDK error to the kinds the limiter acts on.
fn classify(operation: &'static str, partition: Option<u32>, err: azure_core::Error) -> LeaseError {
    if let ErrorKind::HttpResponse { status, error_code } = err.kind() {
        let status = *status as u16;
        let code = error_code.as_deref().unwrap_or("");
        let partition_no = partition.unwrap_or(0);
        match code {
            "LeaseAlreadyPresent" => {
                return LeaseError::Conflict {
                    partition: partition_no,
                };
            }
            "LeaseNotPresentWithLeaseOperation" => {
                return LeaseError::LeaseMissing {
                    partition: partition_no,
                };
            }
            "LeaseIdMismatchWithLeaseOperation"
            | "LeaseIsBrokenAndCannotBeRenewed"
            | "LeaseLost" => {
                return LeaseError::Lost {
                    partition: partition_no,
                };
            }
            "BlobNotFound" | "ContainerNotFound" => {
                return LeaseError::NotFound {
                    what: match partition {
                        Some(p) => format!("partition blob {p}"),
                        None => "the container".to_owned(),
                    },
                };
            }
            _ => {}
        }
        match status {
            401 | 403 => return LeaseError::Unauthorized { operation, status },
            429 | 503 => return LeaseError::Throttled { operation, status },
            _ => {}
        }
        let code = if code.is_empty() {
            "no error code"
        } else {
            code
        };
        return LeaseError::Storage {
            operation,
            message: format!("HTTP {status} ({code})"),
            source: Some(Box::new(err)),
        };
    }
    LeaseError::Storage {
        operation,
        message: err.to_string(),
        source: Some(Box::new(err)),
    }
}

fn azure_lease_id(lease: &LeaseId) -> Result<AzureLeaseId, LeaseError> {
    AzureLeaseId::from_str(lease.as_str())
        .map_err(|e| LeaseError::storage("lease id", format!("{lease} is not a UUID: {e}")))
}

fn error_code(err: &azure_core::Error) -> Option<&str> {
    match err.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

impl LeaseManager for AzureBlobLeases {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        let container = self.container.clone();
        async move {
            match container.create().await {
                Ok(_) => Ok(Provisioned::Created),
                Err(e) if error_code(&e) == Some("ContainerAlreadyExists") => {
                    Ok(Provisioned::Existed)
                }
                Err(e) => Err(classify("create container", None, e)),
            }
        }
        .boxed()
    }

    fn ensure_partition(
        &self,
        partition: u32,
    ) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        let blob = self.container.blob_client(partition.to_string());
        async move {
            let put = blob
                .put_block_blob(Vec::<u8>::new())
                .if_match(IfMatchCondition::NotMatch("*".to_owned()));
            match put.await {
                Ok(_) => Ok(Provisioned::Created),
                // An existing blob answers BlobAlreadyExists; one leased by another instance
                // answers LeaseIdMissing. Both mean the partition is in place.
                Err(e)
                    if matches!(
                        error_code(&e),
                        Some("BlobAlreadyExists" | "LeaseIdMissing" | "ConditionNotMet")
                    ) =>
                {
                    Ok(Provisioned::Existed)
                }
                Err(e) => Err(classify("create partition blob", Some(partition), e)),
            }
        }
        .boxed()
    }

    fn acquire(
        &self,
        partition: u32,
        lease: LeaseId,
        duration: Duration,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        let blob = self.container.blob_client(partition.to_string());
        async move {
            let id = azure_lease_id(&lease)?;
            let secs = u8::try_from(duration.as_secs()).unwrap_or(60);
            blob.acquire_lease(LeaseDuration::Seconds(secs))
                .proposed_lease_id(ProposedLeaseId::from(id))
                .await
                .map(|_| ())
                .map_err(|e| classify("acquire lease", Some(partition), e))
        }
        .boxed()
    }

    fn renew(&self, partition: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        let blob = self.container.blob_client(partition.to_string());
        async move {
            let id = azure_lease_id(&lease)?;
            blob.blob_lease_client(id)
                .renew()
                .await
                .map(|_| ())
                .map_err(|e| classify("renew lease", Some(partition), e))
        }
        .boxed()
    }

    fn release(
        &self,
        partition: u32,
        lease: LeaseId,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        let blob = self.container.blob_client(partition.to_string());
        async move {
            let id = azure_lease_id(&lease)?;
            blob.blob_lease_client(id)
                .release()
                .await
                .map(|_| ())
                .map_err(|e| classify("release lease", Some(partition), e))
        }
        .boxed()
    }

    fn announce(&self, member: String, wanted: u32) -> BoxFuture<'static, Result<(), LeaseError>> {
        let blob = self
            .container
            .blob_client(format!("{MEMBERS_PREFIX}{member}"));
        async move {
            let mut metadata = azure_core::request_options::Metadata::new();
            metadata.insert("wanted", wanted.to_string());
            blob.put_block_blob(Vec::<u8>::new())
                .metadata(metadata)
                .await
                .map(|_| ())
                .map_err(|e| classify("announce demand", None, e))
        }
        .boxed()
    }

    fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>> {
        let container = self.container.clone();
        async move {
            let mut pages = container
                .list_blobs()
                .prefix(MEMBERS_PREFIX)
                .include_metadata(true)
                .into_stream();
            let mut members = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("list members", None, e))?;
                let now = page.date.unix_timestamp();
                for blob in page.blobs.blobs() {
                    let Some(id) = blob.name.strip_prefix(MEMBERS_PREFIX) else {
                        continue;
                    };
                    let wanted = blob
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("wanted"))
                        .and_then(|w| w.parse().ok())
                        .unwrap_or(0);
                    let age = now.saturating_sub(blob.properties.last_modified.unix_timestamp());
                    members.push(Member {
                        id: id.to_owned(),
                        wanted,
                        age: Duration::from_secs(u64::try_from(age).unwrap_or(0)),
                    });
                }
            }
            Ok(members)
        }
        .boxed()
    }

    fn probe(&self) -> BoxFuture<'static, Result<(), LeaseError>> {
        let container = self.container.clone();
        async move {
            container
                .get_properties()
                .await
                .map(|_| ())
                .map_err(|e| classify("read container properties", None, e))
        }
        .boxed()
    }

    fn withdraw(&self, member: String) -> BoxFuture<'static, Result<(), LeaseError>> {
        let blob = self
            .container
            .blob_client(format!("{MEMBERS_PREFIX}{member}"));
        async move {
            match blob.delete().await {
                Ok(_) => Ok(()),
                Err(e) if error_code(&e) == Some("BlobNotFound") => Ok(()),
                Err(e) => Err(classify("withdraw demand", None, e)),
            }
        }
        .boxed()
    }
}
