//! The live view: progress bars on a terminal, plain periodic lines otherwise. It also takes
//! the 100 ms samples of each instance's capacity and queue that the report plots.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use flowgate::batcher::Batcher;
use flowgate::events::RateLimiter;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::pipeline::Config;
use crate::record::Recorder;

pub(crate) async fn run(
    recorder: Arc<Recorder>,
    limiters: Vec<Arc<dyn RateLimiter>>,
    batchers: Vec<Batcher>,
    config: Config,
    stop: CancellationToken,
) {
    let live = std::io::stdout()
        .is_terminal()
        .then(|| Bars::new(&limiters, &config));
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        n += 1;
        let capacity: Vec<u32> = limiters.iter().map(|l| l.capacity()).collect();
        let queued: Vec<u64> = batchers
            .iter()
            .map(|b| b.operations_in_buffer() as u64)
            .collect();
        let backlog_cost = batchers.iter().map(Batcher::needs_capacity).sum();
        recorder.sample(capacity.clone(), queued.clone(), backlog_cost);
        match &live {
            Some(bars) if n % 2 == 0 => bars.update(&recorder, &capacity, &queued),
            None if n % 10 == 0 => print_line(&recorder, &capacity, &queued, &config),
            _ => {}
        }
    }
    if let Some(bars) = live {
        bars.finish();
    }
}

fn print_line(recorder: &Recorder, capacity: &[u32], queued: &[u64], config: &Config) {
    let caps: Vec<String> = capacity.iter().map(u32::to_string).collect();
    println!(
        "t={:>5.1}s events {:>6} queued {:>5} delivered {:>6} cost/s {:>5} of {} capacity [{}]",
        recorder.start.elapsed().as_secs_f64(),
        recorder.emitted.load(std::sync::atomic::Ordering::Relaxed),
        queued.iter().sum::<u64>(),
        recorder.total(|c| &c.delivered),
        recorder.cost_last_second(),
        config.limit(),
        caps.join(" "),
    );
}

struct Bars {
    _multi: MultiProgress,
    total: ProgressBar,
    instances: Vec<ProgressBar>,
}

impl Bars {
    fn new(limiters: &[Arc<dyn RateLimiter>], config: &Config) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(8));
        let total = multi.add(ProgressBar::new(config.limit()));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:40.green/blue}] {pos:>6}/{len} cost/s  {msg}",
            )
            .expect("the template is valid")
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        total.set_prefix("delivered");
        let instances = limiters
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let bar = multi.add(ProgressBar::new(u64::from(l.max_capacity())));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} [{bar:40.cyan/blue}] {pos:>6}/{len} capacity  {msg}",
                    )
                    .expect("the template is valid")
                    .progress_chars("█▉▊▋▌▍▎▏ "),
                );
                bar.set_prefix(format!("instance {i}"));
                bar
            })
            .collect();
        Bars {
            _multi: multi,
            total,
            instances,
        }
    }

    fn update(&self, recorder: &Recorder, capacity: &[u32], queued: &[u64]) {
        use std::sync::atomic::Ordering::Relaxed;
        self.total.set_position(recorder.cost_last_second());
        self.total.set_message(format!(
            "t={:.0}s  events {}  queued {}  delivered {}",
            recorder.start.elapsed().as_secs_f64(),
            recorder.emitted.load(Relaxed),
            queued.iter().sum::<u64>(),
            recorder.total(|c| &c.delivered),
        ));
        for (i, bar) in self.instances.iter().enumerate() {
            bar.set_position(u64::from(capacity[i]));
            let c = &recorder.instances[i];
            bar.set_message(format!(
                "received {}  queued {}  delivered {}",
                c.received.load(Relaxed),
                queued[i],
                c.delivered.load(Relaxed)
            ));
        }
    }

    fn finish(self) {
        self.total.finish();
        for bar in self.instances {
            bar.finish();
        }
    }
}
