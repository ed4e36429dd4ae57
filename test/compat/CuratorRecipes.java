/*
 * Curator recipes against a nestjs-zab ensemble (driven by test/compat-curator.e2e-spec.ts).
 *
 * Goal: Apache Curator 5.4 (Debian's libcurator-*-java, a client nobody here wrote) runs
 * InterProcessMutex and LeaderLatch correctly against the ensemble's client ports, also while
 * a follower member is closed under it.
 * Method: several CuratorFramework clients (one session each) contend from threads; the
 * program observes the recipe's guarantee inside this JVM (overlapping critical sections,
 * simultaneous leaders, lost increments) and prints one JSON line per phase on stdout.
 * Phases: "mutex" (client i on member i mod 3), "control" (the same section without the
 * mutex, until the first overlap: proves the check can fail), "latch" (LeaderLatch hand-over
 * on close), then "failover": clients on two-member connect strings contend on the mutex and a
 * LeaderLatch while the driver closes a follower; the program prints {"phase":"kill"} and waits
 * for a line on stdin saying the member is closed, then keeps contending. Every wait is
 * bounded by a timeout and every loop by a count.
 *
 * Usage: java -cp CLASSPATH CuratorRecipes.java HOST:PORT,HOST:PORT,HOST:PORT
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.data.Stat;

public class CuratorRecipes {
  static final long WAIT_MS = 20_000;
  static final int SESSION_TIMEOUT_MS = 15_000;
  static final int CONNECTION_TIMEOUT_MS = 5_000;

  /** Counts entries into a section while another thread is inside it. */
  static final class Overlaps {
    final AtomicInteger inside = new AtomicInteger();
    final AtomicInteger overlaps = new AtomicInteger();
    final AtomicInteger entries = new AtomicInteger();

    void enter() {
      entries.incrementAndGet();
      if (inside.incrementAndGet() > 1) overlaps.incrementAndGet();
    }

    void leave() {
      inside.decrementAndGet();
    }
  }

  /** A client whose connection-state changes are counted (for the failover phase). */
  static final class Client {
    final CuratorFramework framework;
    final String connectString;
    final AtomicInteger suspended = new AtomicInteger();
    final AtomicInteger reconnected = new AtomicInteger();
    final AtomicInteger lost = new AtomicInteger();

    Client(String connectString) throws InterruptedException {
      this.connectString = connectString;
      framework = CuratorFrameworkFactory.builder()
          .connectString(connectString)
          .sessionTimeoutMs(SESSION_TIMEOUT_MS)
          .connectionTimeoutMs(CONNECTION_TIMEOUT_MS)
          .retryPolicy(new ExponentialBackoffRetry(100, 6))
          .build();
      framework.getConnectionStateListenable().addListener((client, state) -> {
        if (state == ConnectionState.SUSPENDED) suspended.incrementAndGet();
        if (state == ConnectionState.RECONNECTED) reconnected.incrementAndGet();
        if (state == ConnectionState.LOST) lost.incrementAndGet();
      });
      framework.start();
      if (!framework.blockUntilConnected((int) WAIT_MS, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("not connected to " + connectString);
      }
    }
  }

  interface Body {
    void run(int index) throws Exception;
  }

  /** Runs `body(i)` on `count` threads released together; returns their errors. */
  static List<String> runThreads(int count, Body body) throws InterruptedException {
    CyclicBarrier start = new CyclicBarrier(count);
    List<String> errors = Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      final int index = i;
      Thread thread = new Thread(() -> {
        try {
          start.await(WAIT_MS, TimeUnit.MILLISECONDS);
          body.run(index);
        } catch (Exception error) {
          errors.add(error.toString());
        }
      });
      thread.setDaemon(true);
      threads.add(thread);
      thread.start();
    }
    for (Thread thread : threads) thread.join(WAIT_MS * 3);
    long hung = threads.stream().filter(Thread::isAlive).count();
    if (hung > 0) errors.add(hung + " threads did not finish");
    return errors;
  }

  /** An unversioned increment: two round trips, so concurrent ones lose updates. */
  static void readModifyWrite(CuratorFramework client, String path) throws Exception {
    int value = Integer.parseInt(new String(client.getData().forPath(path), StandardCharsets.UTF_8));
    client.setData().forPath(path, Integer.toString(value + 1).getBytes(StandardCharsets.UTF_8));
  }

  static int readInt(CuratorFramework client, String path) throws Exception {
    return Integer.parseInt(new String(client.getData().forPath(path), StandardCharsets.UTF_8));
  }

  /** Clients contend on an InterProcessMutex (or none) over a read-modify-write section. */
  static String mutexPhase(String phase, List<Client> clients, String path, boolean useMutex,
      int iterations, boolean stopAtFirstOverlap, BooleanSupplier keepGoing) throws Exception {
    Overlaps seen = new Overlaps();
    String dataPath = path + "-data";
    clients.get(0).framework.create().creatingParentContainersIfNeeded()
        .forPath(dataPath, "0".getBytes(StandardCharsets.UTF_8));
    List<String> errors = runThreads(clients.size(), (index) -> {
      CuratorFramework client = clients.get(index).framework;
      InterProcessMutex mutex = new InterProcessMutex(client, path);
      for (int i = 0; i < iterations && keepGoing.getAsBoolean(); i++) {
        if (stopAtFirstOverlap && seen.overlaps.get() > 0) return;
        if (useMutex && !mutex.acquire(WAIT_MS, TimeUnit.MILLISECONDS)) {
          throw new TimeoutException("mutex not acquired within " + WAIT_MS + " ms");
        }
        try {
          seen.enter();
          readModifyWrite(client, dataPath);
          seen.leave();
        } finally {
          if (useMutex) mutex.release();
        }
      }
    });
    // The mutex's parent is a container: it may be swept once empty, which counts as none.
    CuratorFramework first = clients.get(0).framework;
    int children = first.checkExists().forPath(path) == null ? 0 : first.getChildren().forPath(path).size();
    return "{\"phase\":\"" + phase + "\",\"entries\":" + seen.entries.get()
        + ",\"overlaps\":" + seen.overlaps.get()
        + ",\"finalValue\":" + readInt(clients.get(0).framework, dataPath)
        + ",\"lockNodesAfter\":" + children
        + ",\"errors\":" + jsonStrings(errors) + "}";
  }

  /** LeaderLatch participants; counts simultaneous leaders through their listeners. */
  static final class Latches {
    final List<LeaderLatch> latches = new ArrayList<>();
    final List<AtomicBoolean> leading = new ArrayList<>();
    final AtomicInteger leaders = new AtomicInteger();
    final AtomicInteger maxLeaders = new AtomicInteger();
    final Object changed = new Object();

    Latches(List<Client> clients, String path) throws Exception {
      for (int i = 0; i < clients.size(); i++) {
        AtomicBoolean flag = new AtomicBoolean(false);
        LeaderLatch latch = new LeaderLatch(clients.get(i).framework, path, "participant-" + i);
        latch.addListener(new LeaderLatchListener() {
          public void isLeader() {
            if (flag.compareAndSet(false, true)) maxLeaders.accumulateAndGet(leaders.incrementAndGet(), Math::max);
            synchronized (changed) {
              changed.notifyAll();
            }
          }

          public void notLeader() {
            if (flag.compareAndSet(true, false)) leaders.decrementAndGet();
          }
        });
        leading.add(flag);
        latches.add(latch);
      }
      for (LeaderLatch latch : latches) latch.start();
    }

    /** Closes participant `index`; a closed latch no longer counts as a leader. */
    void close(int index) throws Exception {
      if (leading.get(index).compareAndSet(true, false)) leaders.decrementAndGet();
      latches.get(index).close();
    }

    /** Waits (bounded) until exactly one open latch has leadership; returns its index. */
    int awaitOneLeader() throws InterruptedException {
      long deadline = System.currentTimeMillis() + WAIT_MS;
      synchronized (changed) {
        while (System.currentTimeMillis() < deadline) {
          int found = -1;
          int count = 0;
          for (int i = 0; i < latches.size(); i++) {
            LeaderLatch latch = latches.get(i);
            if (latch.getState() == LeaderLatch.State.STARTED && latch.hasLeadership()) {
              found = i;
              count++;
            }
          }
          if (count == 1) return found;
          changed.wait(Math.max(1, Math.min(200, deadline - System.currentTimeMillis())));
        }
      }
      return -1;
    }
  }

  /** Latch hand-over: close the leader's latch, another takes over, until one is left. */
  static String latchPhase(String phase, Latches latches) throws Exception {
    int participants = latches.latches.size();
    List<String> handovers = new ArrayList<>();
    List<String> agreed = new ArrayList<>();
    for (int round = 0; round < participants; round++) {
      int leader = latches.awaitOneLeader();
      if (leader < 0) {
        handovers.add("none");
        break;
      }
      handovers.add("participant-" + leader);
      // Every open participant names the same leader (read from the ensemble).
      String named = latches.latches.get(leader).getLeader().getId();
      boolean same = named.equals("participant-" + leader);
      for (LeaderLatch latch : latches.latches) {
        if (latch.getState() == LeaderLatch.State.STARTED) same &= latch.getLeader().getId().equals(named);
      }
      agreed.add(Boolean.toString(same));
      if (round < participants - 1) latches.close(leader);
    }
    for (int i = 0; i < latches.latches.size(); i++) {
      if (latches.latches.get(i).getState() == LeaderLatch.State.STARTED) latches.close(i);
    }
    return "{\"phase\":\"" + phase + "\",\"handovers\":" + jsonStrings(handovers)
        + ",\"agreed\":[" + String.join(",", agreed) + "]"
        + ",\"maxSimultaneousLeaders\":" + latches.maxLeaders.get() + "}";
  }

  static String jsonStrings(List<String> values) {
    List<String> quoted = new ArrayList<>();
    for (String value : values) {
      quoted.add("\"" + value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"");
    }
    return "[" + String.join(",", quoted) + "]";
  }

  static List<Client> connect(List<String> connectStrings) throws InterruptedException {
    List<Client> clients = new ArrayList<>();
    for (String connectString : connectStrings) clients.add(new Client(connectString));
    return clients;
  }

  static void closeAll(List<Client> clients) {
    for (Client client : clients) client.framework.close();
  }

  /**
   * Failover: contention while the driver closes a follower. Client i connects to members
   * i and i+1 (mod 3): every client can move to a live member, and the two clients whose
   * pair is the two followers are certainly on a follower, so the busiest one serves some.
   */
  static String failoverPhase(String[] members, BufferedReader driver) throws Exception {
    List<String> strings = new ArrayList<>();
    for (int i = 0; i < 6; i++) strings.add(members[i % 3] + "," + members[(i + 1) % 3]);
    List<Client> clients = connect(strings);
    AtomicBoolean killed = new AtomicBoolean(false);
    AtomicInteger entriesAfterKill = new AtomicInteger();
    CountDownLatch started = new CountDownLatch(1);
    Thread killer = new Thread(() -> {
      try {
        started.await(WAIT_MS, TimeUnit.MILLISECONDS);
        System.out.println("{\"phase\":\"kill\"}");
        System.out.flush();
        String line = driver.readLine();
        killed.set(line != null && line.startsWith("killed"));
      } catch (Exception error) {
        killed.set(false);
      }
    });
    killer.setDaemon(true);
    killer.start();
    AtomicInteger beforeKill = new AtomicInteger();
    AtomicInteger afterKill = new AtomicInteger();
    // Three of the clients also run a LeaderLatch through the failover.
    Latches latches = new Latches(clients.subList(0, 3), "/curator/failover-latch");
    // After 12 entries the driver closes a follower; contention goes on until 40 entries
    // after the kill are seen (bounded by 2,000 entries per client and by WAIT_MS).
    long deadline = System.currentTimeMillis() + WAIT_MS;
    String mutex = mutexPhase("failover-mutex", clients, "/curator/failover-mutex", true, 2_000, false, () -> {
      if (beforeKill.incrementAndGet() >= 12) started.countDown();
      if (System.currentTimeMillis() > deadline) return false;
      return !(killed.get() && afterKill.incrementAndGet() > 40);
    });
    killer.join(WAIT_MS);
    int suspended = 0;
    int reconnected = 0;
    int lost = 0;
    for (Client client : clients) {
      suspended += client.suspended.get();
      reconnected += client.reconnected.get();
      lost += client.lost.get();
    }
    String latch = latchPhase("failover-latch", latches);
    closeAll(clients);
    return mutex.substring(0, mutex.length() - 1) + ",\"killed\":" + killed.get()
        + ",\"entriesAfterKill\":" + Math.max(0, afterKill.get() - 1)
        + ",\"suspended\":" + suspended + ",\"reconnected\":" + reconnected + ",\"lost\":" + lost + "}\n" + latch;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1 || args[0].split(",").length != 3) {
      System.err.println("usage: CuratorRecipes HOST:PORT,HOST:PORT,HOST:PORT");
      System.exit(2);
    }
    String[] members = args[0].split(",");
    BufferedReader driver = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    List<String> spread = new ArrayList<>();
    for (int i = 0; i < 6; i++) spread.add(members[i % 3]);
    List<Client> clients = connect(spread);
    try {
      System.out.println(mutexPhase("mutex", clients, "/curator/mutex", true, 15, false, () -> true));
      System.out.println(mutexPhase("control", clients, "/curator/nomutex", false, 200, true, () -> true));
      System.out.println(latchPhase("latch", new Latches(clients.subList(0, 3), "/curator/latch")));
    } finally {
      closeAll(clients);
    }
    System.out.println(failoverPhase(members, driver));
    System.out.flush();
  }
}
