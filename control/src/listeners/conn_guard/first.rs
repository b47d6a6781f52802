//! [`first_of`]: runs a connection and its rarely-firing side futures
//! (timeouts, close), polling the side only when one of its wakers fired.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use parking_lot::Mutex;

/// Which of [`first_of`]'s futures finished.
pub enum First<A, B> {
    Main(A),
    Side(B),
}

/// Runs `main` and `side` until one finishes, polling `main` on every wake
/// but `side` only after one of its own wakers fired. A connection's
/// timeout watch and close signal are `side`: with `tokio::select!` they
/// were polled on every wake of the connection, about 300 instructions a
/// request for futures that fire once a connection at most.
pub fn first_of<'a, A, B>(main: Pin<&'a mut A>, side: Pin<&'a mut B>) -> FirstOf<'a, A, B>
where
    A: Future + ?Sized,
    B: Future + ?Sized,
{
    FirstOf {
        main,
        side,
        wake: Arc::new(SideWake {
            // The first poll polls `side` too, so it can arm its wakers.
            fired: AtomicBool::new(true),
            task: Mutex::new(None),
        }),
    }
}

pub struct FirstOf<'a, A: ?Sized, B: ?Sized> {
    main: Pin<&'a mut A>,
    side: Pin<&'a mut B>,
    wake: Arc<SideWake>,
}

/// The waker `side` sees: notes that it fired, then wakes the task.
struct SideWake {
    fired: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::SeqCst);
        if let Some(w) = self.task.lock().as_ref() {
            w.wake_by_ref();
        }
    }
}

impl<A, B> Future for FirstOf<'_, A, B>
where
    A: Future + ?Sized,
    B: Future + ?Sized,
{
    type Output = First<A::Output, B::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(v) = this.main.as_mut().poll(cx) {
            return Poll::Ready(First::Main(v));
        }
        // Stored before `fired` is read: a wake in between then finds the task.
        {
            let mut task = this.wake.task.lock();
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if this.wake.fired.swap(false, Ordering::SeqCst) {
            let waker = Waker::from(this.wake.clone());
            if let Poll::Ready(v) = this.side.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(First::Side(v));
            }
        }
        Poll::Pending
    }
}
