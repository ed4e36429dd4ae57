"""kazoo recipes against a nestjs-zab ensemble (driven by test/compat-kazoo.e2e-spec.ts).

Goal: kazoo 2.8 (Debian's python3-kazoo, a client nobody here wrote) runs its Lock, Election,
Counter and Barrier recipes correctly against the ensemble's client ports.
Method: several KazooClients (one session each, client i on member i mod 3) contend from
threads; the script observes the recipe's guarantee from inside this process (overlapping
critical sections, simultaneous leaders, lost increments, early releases) and prints one JSON
object on stdout. Every wait is bounded by a timeout and every loop by a count.

Usage: /usr/bin/python3 kazoo_recipes.py RECIPE HOST:PORT[,HOST:PORT...]
RECIPE is one of lock, election, counter, barrier.
"""
import json
import logging
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionClosedError
from kazoo.recipe.barrier import Barrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.watchers import ChildrenWatch

WAIT_S = 20.0
SESSION_TIMEOUT_S = 10.0


def connect(hosts, count):
    """Starts `count` clients, client i on hosts[i % len(hosts)]; returns [(client, host)]."""
    clients = []
    for index in range(count):
        host = hosts[index % len(hosts)]
        client = KazooClient(hosts=host, timeout=SESSION_TIMEOUT_S)
        client.start(timeout=WAIT_S)
        clients.append((client, host))
    return clients


def wait_children(client, path, count):
    """Waits (bounded) until `path` has at least `count` children, on a children watch."""
    enough = threading.Event()

    def changed(children):
        if len(children) >= count:
            enough.set()
            return False  # stop watching
        return True

    ChildrenWatch(client, path, changed)
    return enough.wait(WAIT_S)


def stop_all(clients):
    for client, _ in clients:
        client.stop()
        client.close()


class Overlaps(object):
    """Counts entries into a section while another thread is inside it."""

    def __init__(self):
        self._mutex = threading.Lock()
        self.inside = 0
        self.overlaps = 0
        self.entries = 0

    def enter(self):
        with self._mutex:
            self.inside += 1
            self.entries += 1
            if self.inside > 1:
                self.overlaps += 1

    def leave(self):
        with self._mutex:
            self.inside -= 1


def run_threads(targets):
    """Starts one thread per callable, all released together; joins them (bounded)."""
    start = threading.Barrier(len(targets), timeout=WAIT_S)
    errors = []

    def wrap(target):
        def body():
            try:
                start.wait()
                target()
            except Exception as error:  # reported in the JSON result, not swallowed
                errors.append(repr(error))
        return body

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    hung = sum(1 for thread in threads if thread.is_alive())
    return errors + (["%d threads did not finish" % hung] if hung else [])


def read_modify_write(client, path):
    """An unversioned increment of `path`: two round trips, so concurrent ones lose updates."""
    data, _ = client.get(path)
    client.set(path, str(int(data) + 1).encode())


def lock_run(clients, path, use_lock, iterations, stop_at_first_overlap):
    seen = Overlaps()
    data_path = path + "-data"
    clients[0][0].ensure_path(path)
    clients[0][0].create(data_path, b"0")

    def worker(client, identifier):
        lock = Lock(client, path, identifier)
        for _ in range(iterations):
            if stop_at_first_overlap and seen.overlaps > 0:
                return
            if use_lock:
                if not lock.acquire(timeout=WAIT_S):
                    raise RuntimeError("lock not acquired within %ss" % WAIT_S)
            try:
                seen.enter()
                read_modify_write(client, data_path)
                seen.leave()
            finally:
                if use_lock:
                    lock.release()

    errors = run_threads([
        (lambda c=client, i=index: worker(c, "client-%d" % i))
        for index, (client, _) in enumerate(clients)])
    final = int(clients[0][0].get(data_path)[0])
    return {"entries": seen.entries, "overlaps": seen.overlaps,
            "finalValue": final, "errors": errors}


def recipe_lock(hosts):
    clients = connect(hosts, 6)
    try:
        iterations = 15
        locked = lock_run(clients, "/kazoo/lock", True, iterations, False)
        locked["expected"] = len(clients) * iterations
        # The control runs the same critical section without the lock, until the first
        # overlap (at most 200 entries per client): it shows the overlap check can fail.
        control = lock_run(clients, "/kazoo/nolock", False, 200, True)
        lock = Lock(clients[1][0], "/kazoo/lock")
        return {"hosts": [h for _, h in clients], "locked": locked, "control": control,
                "contendersAfter": lock.contenders()}
    finally:
        stop_all(clients)


def recipe_election(hosts):
    clients = connect(hosts, 3)
    mutex = threading.Lock()
    believers = set()        # contenders whose leadership function is running
    max_believers = [0]
    elected = []              # identifiers in the order they were elected
    elected_event = threading.Condition(mutex)
    stopped = {}              # identifier -> threading.Event ending its leadership function

    def lead(identifier):
        with mutex:
            believers.add(identifier)
            max_believers[0] = max(max_believers[0], len(believers))
            elected.append(identifier)
            elected_event.notify_all()
        stopped[identifier].wait(WAIT_S * 2)

    def contend(election, identifier):
        try:
            election.run(lead, identifier)
        except ConnectionClosedError:
            pass  # its client was stopped while leading: the lock's release cannot be sent

    elections = []
    threads = []
    for index, (client, _) in enumerate(clients):
        identifier = "contender-%d" % index
        stopped[identifier] = threading.Event()
        election = Election(client, "/kazoo/election", identifier)
        elections.append(election)
        thread = threading.Thread(target=contend, args=(election, identifier), daemon=True)
        threads.append(thread)
        thread.start()

    def wait_elected(count):
        deadline = time.monotonic() + WAIT_S
        with mutex:
            while len(elected) < count and time.monotonic() < deadline:
                elected_event.wait(deadline - time.monotonic())
            return len(elected) >= count

    contenders_seen = []
    handover_ms = []
    try:
        for round_index in range(len(clients)):
            if not wait_elected(round_index + 1):
                break
            leader = elected[round_index]
            if round_index == 0:
                # Every contender has queued its node before the first hand-over.
                wait_children(clients[0][0], "/kazoo/election", len(clients))
                contenders_seen.append(sorted(elections[0].contenders()))
            if round_index == len(clients) - 1:
                break
            # The leader's client stops: its session closes, its ephemeral node goes, and
            # another contender (on another member) must be elected.
            index = int(leader.split("-")[1])
            with mutex:
                believers.discard(leader)
            began = time.monotonic()
            clients[index][0].stop()
            if wait_elected(round_index + 2):
                handover_ms.append(round((time.monotonic() - began) * 1000))
            stopped[leader].set()
        return {"hosts": [h for _, h in clients], "elected": elected,
                "maxSimultaneousLeaders": max_believers[0],
                "contendersAtStart": contenders_seen[0] if contenders_seen else [],
                "handoverMs": handover_ms}
    finally:
        for event in stopped.values():
            event.set()
        stop_all(clients)


def recipe_counter(hosts):
    clients = connect(hosts, 6)
    increments = 20
    try:
        def worker(client):
            counter = Counter(client, "/kazoo/counter")
            for _ in range(increments):
                counter += 1

        errors = run_threads([(lambda c=client: worker(c)) for client, _ in clients])
        value = Counter(clients[0][0], "/kazoo/counter").value
        return {"hosts": [h for _, h in clients], "value": value,
                "expected": len(clients) * increments, "errors": errors}
    finally:
        stop_all(clients)


def recipe_barrier(hosts):
    clients = connect(hosts, 4)
    mutex = threading.Lock()
    removed = [False]
    outcomes = []             # per waiter: (released before remove?, released at all?)
    held = []                 # per waiter: did a short wait time out while the barrier stood?
    waiting = threading.Semaphore(0)
    try:
        Barrier(clients[0][0], "/kazoo/barrier").create()

        def waiter(client):
            barrier = Barrier(client, "/kazoo/barrier")
            held.append(barrier.wait(timeout=0.5) is False)
            waiting.release()
            released = barrier.wait(timeout=WAIT_S)
            with mutex:
                outcomes.append({"released": released, "beforeRemove": released and not removed[0]})

        threads = [threading.Thread(target=waiter, args=(client,), daemon=True)
                   for client, _ in clients[1:]]
        for thread in threads:
            thread.start()
        for _ in threads:
            waiting.acquire(timeout=WAIT_S)
        with mutex:
            removed[0] = True
        began = time.monotonic()
        Barrier(clients[0][0], "/kazoo/barrier").remove()
        for thread in threads:
            thread.join(WAIT_S)
        return {"hosts": [h for _, h in clients], "waiters": len(threads),
                "heldWhileStanding": held, "outcomes": outcomes,
                "releaseMs": round((time.monotonic() - began) * 1000)}
    finally:
        stop_all(clients)


RECIPES = {"lock": recipe_lock, "election": recipe_election,
           "counter": recipe_counter, "barrier": recipe_barrier}


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if len(sys.argv) != 3 or sys.argv[1] not in RECIPES:
        sys.stderr.write("usage: kazoo_recipes.py {%s} HOST:PORT[,...]\n" % ",".join(RECIPES))
        return 2
    hosts = sys.argv[2].split(",")
    began = time.monotonic()
    result = RECIPES[sys.argv[1]](hosts)
    result["elapsedMs"] = round((time.monotonic() - began) * 1000)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
