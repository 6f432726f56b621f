//! Four instances on a private Azurite (10 partitions of 1,000, reserved 0): the sum of
//! their capacities never exceeds the shared capacity while one instance's process is
//! stopped for 30 s (separate processes, capacities compared at the same wall-clock
//! instants), and while one instance's traffic is black-holed for 30 s (a network
//! partition through the fault proxy: it stops counting before its leases could lapse,
//! so no partition is ever counted twice). Long (`cargo xtask test --long`); skipped
//! (loudly) without `FLOWGATE_AZURITE_BIN`.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events_core::RateLimiter;
use testkit::{Fault, FaultProxy};

use support::azurite::{Azurite, azurite_bin, builder, unique_container};
use support::fleet::{Fleet, SHARED};
use support::processes::{Instance, Report, sums};

fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Waits (at most `within`) until the instances' sums reach the shared capacity.
async fn wait_full(instances: &[Instance], within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        let all: Vec<Vec<Report>> = instances
            .iter()
            .map(|i| i.reports.lock().unwrap().clone())
            .collect();
        if sums(&all).last().is_some_and(|s| s.1 == SHARED) {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about 40 s (one instance process stopped for 30 s)"]
async fn an_instance_stopped_for_30_s_never_lets_the_sum_exceed_the_limit() {
    let Some(bin) = azurite_bin() else { return };
    let _serial = support::fleet::one_at_a_time().await;
    let azurite = Azurite::start(bin).await.unwrap();
    let container = unique_container("paused");
    let connection = azurite.connection_string();
    let instances: Vec<Instance> = (0..4)
        .map(|i| Instance::start(&connection, &container, i + 1))
        .collect();
    assert!(
        wait_full(&instances, Duration::from_secs(30)).await,
        "never reached the shared capacity"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let paused = wall_micros();
    testkit::signal(instances[0].pid(), "STOP").unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    testkit::signal(instances[0].pid(), "CONT").unwrap();
    let resumed = wall_micros();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let all: Vec<Vec<Report>> = instances
        .iter()
        .map(|i| i.reports.lock().unwrap().clone())
        .collect();
    for i in instances {
        i.stop().await;
    }

    let grid = sums(&all);
    assert!(grid.len() > 400, "only {} instants compared", grid.len());
    let over: Vec<&(u64, u32)> = grid.iter().filter(|s| s.1 > SHARED).collect();
    assert!(
        over.is_empty(),
        "sum above {SHARED} at {} instants: {:?}",
        over.len(),
        over.first()
    );
    // Not vacuous: meanwhile the others took the stopped instance's partitions...
    let others = sums(&all[1..]);
    let during: Vec<u32> = others
        .iter()
        .filter(|s| s.0 > paused && s.0 < resumed)
        .map(|s| s.1)
        .collect();
    eprintln!(
        "paused: the others held at most {:?} in {} instants during the stop",
        during.iter().max(),
        during.len()
    );
    assert!(
        others
            .iter()
            .any(|s| s.0 > paused && s.0 < resumed && s.1 == SHARED),
        "the others never took the stopped instance's partitions"
    );
    // ...and its first report after it continued left them out.
    let first = all[0].iter().find(|r| r.0 > resumed).copied();
    assert_eq!(
        first.map(|r| r.1),
        Some(0),
        "stale capacity after the stop: {first:?}"
    );
    eprintln!(
        "paused: {} instants compared, peak {}",
        grid.len(),
        grid.iter().map(|s| s.1).max().unwrap_or(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about 40 s (one instance black-holed for 30 s)"]
async fn an_instance_cut_off_for_30_s_stops_counting_before_its_leases_lapse() {
    let Some(bin) = azurite_bin() else { return };
    let _serial = support::fleet::one_at_a_time().await;
    let azurite = Azurite::start(bin).await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], azurite.port()).into())
        .await
        .unwrap();
    let container = unique_container("cut-off");
    let through_proxy =
        testkit::connection_string(&format!("http://{}/{}", proxy.addr(), testkit::ACCOUNT));
    let direct = azurite.connection_string();
    let builders = (0..4)
        .map(|i| {
            let connection = if i == 0 { &through_proxy } else { &direct };
            builder(connection, &container).seed(i as u64 + 1)
        })
        .collect();
    let fleet = Fleet::start(builders).await;
    assert!(
        fleet
            .wait_for_sum(SHARED, Duration::from_secs(20))
            .await
            .is_some(),
        "never reached the shared capacity"
    );
    fleet.run_for(Duration::from_secs(2)).await;
    let held = fleet.limiters[0].capacity();
    assert!(held > 0, "the instance to cut off holds nothing");
    proxy.set(Fault::BlackHole);
    let cut = tokio::time::Instant::now();
    // Its leases stop counting within 13.4 s of their last renewal, before the storage
    // lets them go (15 s)...
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let stopped = loop {
        tick.tick().await;
        if fleet.limiters[0].capacity() == 0 {
            break cut.elapsed();
        }
        assert!(
            cut.elapsed() < Duration::from_secs(15),
            "kept counting while cut off"
        );
    };
    assert!(stopped <= Duration::from_millis(13_600), "{stopped:?}");
    // ...and the others take them once its announcement ages out of the fair share (a
    // lease duration and a sync interval plus 2 s after its last one). The cut lasts at
    // least 30 s.
    let taken = fleet.wait_for_sum(SHARED, Duration::from_secs(40)).await;
    assert!(
        taken.is_some(),
        "the others never took the cut-off instance's partitions"
    );
    fleet
        .run_for(Duration::from_secs(30).saturating_sub(cut.elapsed()))
        .await;
    proxy.set(Fault::Pass);
    fleet.run_for(Duration::from_secs(5)).await;
    // Exclusive counting at every moment and the bound at every sample are checked here.
    fleet.stop_and_check().await;
}
