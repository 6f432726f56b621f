//! The flowgate demo (first version): shows events flowing from a component to a
//! callback listener and a stream subscription.
//!
//! Run it with `cargo xtask demo`.

use flowgate::prelude::*;
use futures::StreamExt;

#[tokio::main]
async fn main() {
    let emitter = Emitter::new("demo");
    emitter.add_listener(|event| println!("listener: {event}"));
    let mut stream = emitter.subscribe();
    for (name, val) in [
        (EventName::Capacity, 1000),
        (EventName::FlushStart, 3),
        (EventName::Batch, 3),
        (EventName::FlushDone, 3),
        (EventName::Shutdown, 0),
    ] {
        emitter.emit(name, val);
    }
    drop(emitter);
    while let Some(Ok(event)) = stream.next().await {
        println!("stream:   {event}");
    }
}
