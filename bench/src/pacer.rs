//! The pacer of a paced load (`--rate`, and the suite's paced chats): a thread that hands out
//! the moments calls are due, in batches, to the lanes of calls on gRPC's thread. What a lane
//! does with its ticks is `load.rs`'s.

use std::collections::VecDeque;
use std::future::Future;
use std::thread;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, unbounded};

/// How often the pacer hands the ticks that have come due to gRPC's thread, each batch one wake
/// of that thread. Waking it for every tick kept it from reading: gRPC polls its sockets only
/// when it has no other event to hand out, so replies sat unread in them (see `bench/README.md`,
/// "RouteChat tail"). A tick reaches its lane a step late at most, plus the wait for gRPC's
/// thread to run the task that hands it out, and that lateness counts in the latency, so the
/// step is short.
const PACER_STEP: Duration = Duration::from_micros(250);

/// The ticks of a paced load, one receiver per lane, and the task that hands them out on gRPC's
/// thread, to run beside the lanes. Lane `l` gets `lane_ticks[l]` ticks; tick `i` is due `i /
/// rate` seconds after the start, which is one round of the lanes (`lanes / rate`) from now,
/// once every lane's first call can be open. The ticks go round the lanes in turn ([`deal`]),
/// so each lane gets one tick per `lanes / rate`, the lanes' ticks spread evenly over that
/// interval, until the lanes with fewer ticks have had theirs.
///
/// A thread of its own wakes every [`PACER_STEP`] and sends the ticks that have come due as one
/// batch; the task passes each to its lane. The task ends when the ticks run out or when it finds
/// every lane gone, and the thread at its next batch after that.
pub(crate) fn pace(
    lane_ticks: Vec<u64>,
    rate: f64,
) -> Result<(Vec<UnboundedReceiver<Instant>>, impl Future<Output = ()>), String> {
    let lanes = lane_ticks.len();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..lanes).map(|_| unbounded()).unzip();
    let (batches, mut due_batches) = unbounded::<Vec<(usize, Instant)>>();
    let start = Instant::now() + Duration::from_secs_f64(lanes as f64 / rate);
    thread::Builder::new()
        .name("routeguide-bench-pacer".into())
        .spawn(move || {
            let mut schedule = deal(lane_ticks)
                .enumerate()
                .map(|(i, lane)| (lane, start + Duration::from_secs_f64(i as f64 / rate)))
                .peekable();
            while schedule.peek().is_some() {
                let now = Instant::now();
                let due: Vec<_> =
                    std::iter::from_fn(|| schedule.next_if(|&(_, at)| at <= now)).collect();
                if !due.is_empty() && batches.unbounded_send(due).is_err() {
                    return;
                }
                thread::sleep(PACER_STEP);
            }
        })
        .map_err(|e| format!("cannot start the pacer thread: {e}"))?;
    let hand_out = async move {
        while let Some(due) = due_batches.next().await {
            for (lane, at) in due {
                // A lane that has gone (it is done) is skipped; when none is left, handing out
                // is over.
                if senders[lane].unbounded_send(at).is_err()
                    && senders.iter().all(|tick| tick.is_closed())
                {
                    return;
                }
            }
        }
        // Dropping the senders tells each lane that its ticks have run out.
    };
    Ok((receivers, hand_out))
}

/// The lane of each tick in turn, when lane `l` is to get `lane_ticks[l]` of them: round the
/// lanes, passing over those that have had all theirs.
fn deal(mut lane_ticks: Vec<u64>) -> impl Iterator<Item = usize> {
    let mut turns: VecDeque<usize> = (0..lane_ticks.len())
        .filter(|&lane| lane_ticks[lane] > 0)
        .collect();
    std::iter::from_fn(move || {
        let lane = turns.pop_front()?;
        lane_ticks[lane] -= 1;
        if lane_ticks[lane] > 0 {
            turns.push_back(lane);
        }
        Some(lane)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_go_round_the_lanes_until_each_has_its_own() {
        assert_eq!(deal(vec![2, 2, 2]).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2]);
        assert_eq!(deal(vec![3, 1, 2]).collect::<Vec<_>>(), [0, 1, 2, 0, 2, 0]);
        assert_eq!(deal(vec![0, 0]).count(), 0);
        assert_eq!(deal(Vec::new()).count(), 0);
    }
}
