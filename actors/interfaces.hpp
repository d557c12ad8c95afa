#pragma once

// Every typed actor interface of agentmesh, in CAF 0.17 syntax.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "core/agent_board.hpp"
#include "core/messages.hpp"
#include "core/persist.hpp"

namespace am {

/// A standard A2A message for an agent, already parsed and routed.
struct submit_request {
  std::string action; // "" = the agent's default action
  shared_json params; // null = built from `text`
  std::string text;   // the message's text parts, joined
  shared_json message; // the user message as received
  std::string context_id;
  std::string message_id;
  std::string trace_id; // W3C trace of the request
  /// 0: answer at once; else answer once the task is terminal, or with its
  /// current state after this many milliseconds.
  uint32_t wait_ms = 0;
  /// Streaming: every event of the task goes to `sink` (the HTTP
  /// connection) as a `stream_event` with `seq`, rendered for `rpc_id`.
  caf::actor sink;
  uint64_t seq = 0;
  std::string rpc_id; // the request id as JSON text
};

/// An agent: a memory, the dialect inbox (run by ProcessNext) and the
/// standard A2A tasks it runs by itself, one at a time.
using agent_actor = caf::typed_actor<
  // Queues a dialect task (action, params object, trace id); answers its
  // id.
  caf::replies_to<enqueue_atom, std::string, json_box,
                  std::string>::with<std::string>,
  // Runs the dialect inbox head.
  caf::replies_to<process_atom>::with<process_result>,
  // Describes the agent.
  caf::replies_to<state_atom>::with<agent_status>,
  // Looks up one of the agent's tasks by id.
  caf::replies_to<task_atom, std::string>::with<task_view>,
  // Removes a queued task by id (dialect CancelTask).
  caf::replies_to<cancel_atom, std::string>::with<bool>,
  // Stops the agent for good (delegated to its supervisor).
  caf::replies_to<stop_atom>::with<bool>,
  // Lost a cluster-wide name conflict: stops with reason name_conflict.
  caf::reacts_to<conflict_atom>,
  // A standard message: creates (or, for a known message id, finds) a task.
  caf::replies_to<submit_atom, submit_request>::with<task_view>,
  // Standard CancelTask: the cancelled task, or not_cancelable.
  caf::replies_to<abort_atom, std::string>::with<task_view>,
  // SubscribeToTask: events of a task go to the sink (sink, seq, rpc id).
  caf::replies_to<watch_atom, std::string, caf::actor, uint64_t,
                  std::string>::with<task_view>,
  // What the agent's card shows.
  caf::replies_to<info_atom>::with<agent_info>,
  // Internal: start the next standard task; an asynchronous action
  // finished; a timer of an action; a blocking send waited long enough.
  caf::reacts_to<run_atom>,
  caf::reacts_to<finish_atom, std::string, json_box>,
  caf::reacts_to<timer_atom, uint64_t>,
  caf::reacts_to<expire_atom>,
  // From the supervisor: leave for good (the store forgets the agent, its
  // waiters get agent_not_found); answers once kept, then quits.
  caf::replies_to<retire_atom>::with<bool>,
  // From the supervisor: move to another node. Starts no further task,
  // lets the running one finish (at most the drain time), then answers
  // with everything it holds and the node of its replica, and quits.
  caf::replies_to<handoff_atom>::with<agent_snapshot, std::string>,
  // Internal: the drain time is over.
  caf::reacts_to<drained_atom>,
  // Hands the changes gathered since the last flush to the store and the
  // backup (sent to itself by the first change after a flush).
  caf::reacts_to<flush_atom>,
  // From the supervisor: the members changed; copy the agent to its
  // (possibly new) backup.
  caf::reacts_to<backup_atom>>;

/// The node's store writer: keeps agent changes in the node's database.
/// Changes that arrive while a commit runs go into the next one together
/// (group commit).
using store_actor = caf::typed_actor<
  // Keeps a change; answers once it is committed.
  caf::replies_to<store_atom, agent_delta>::with<bool>,
  // Internal: commit what has arrived.
  caf::reacts_to<flush_atom>>;

/// Copies of other nodes' agents that this node keeps as their backup
/// (`agents.replicas`).
using replica_actor = caf::typed_actor<
  // From a primary (its node name): the whole agent; replaces any copy.
  // Refused when a newer generation of the agent is known.
  caf::replies_to<seed_atom, std::string, agent_snapshot>::with<bool>,
  // From a primary: one change of a copy it seeded; refused without one.
  caf::replies_to<store_atom, std::string, agent_delta>::with<bool>,
  // From the membership: `node` is down; its copies are set aside (new
  // seeds from a returning `node` are kept apart from them).
  caf::reacts_to<suspend_atom, std::string>,
  // From the membership: the decision on `node`. Hands out the copies set
  // aside to promote (true), or drops them (false).
  caf::replies_to<detach_atom, std::string,
                  bool>::with<std::vector<agent_snapshot>>>;

class agent_state;
struct agent_observers;

/// What a terminated agent leaves to its supervisor: its state and everyone
/// waiting on it, sent once its actor is gone (nothing touches them any
/// more). Local only. A retired agent leaves nothing.
struct agent_parcel {
  std::shared_ptr<agent_state> st;
  std::shared_ptr<agent_observers> obs;
  caf::actor_addr source; // the terminated actor
};

/// One agent to start: name, memory object, default action.
struct start_request {
  std::string name;
  json_box memory;
  std::string default_action;
};

/// What starting one agent of a group came to: its result, or the error.
struct start_answer {
  start_result result;
  caf::error error;
};

/// Spawns, watches and restarts the agents of one node.
using supervisor_actor = caf::typed_actor<
  // Starts an agent (name, memory object, default action).
  caf::replies_to<start_atom, std::string, json_box,
                  std::string>::with<start_result>,
  // Starts a group of agents (the StartAgent calls of a JSON-RPC batch),
  // each as above, with one directory round for the group. Local only.
  caf::replies_to<start_atom, std::vector<start_request>>::with<
    std::vector<start_answer>>,
  // Stops a local agent by name with a reason; false if there is none.
  caf::replies_to<stop_atom, std::string, std::string>::with<bool>,
  // The current handle of a local agent whose handle `failed` (answers once
  // it is restarted; empty if it is gone).
  caf::replies_to<resolve_atom, std::string, agent_actor>::with<agent_actor>,
  // From a terminated agent: its state, for the restart.
  caf::reacts_to<crash_atom, agent_parcel>,
  // At start-up: brings back the agents a store kept; answers how many.
  caf::replies_to<adopt_atom, std::vector<agent_snapshot>>::with<size_t>,
  // From a peer's supervisor: takes over an agent that moves here (reason
  // "handoff"); answers its new handle once kept.
  caf::replies_to<adopt_atom, agent_snapshot, std::string>::with<agent_actor>,
  // Graceful shutdown: moves every local agent to a member; answers how
  // many moved.
  caf::replies_to<handoff_atom>::with<size_t>,
  // Node shutdown: from now on nothing starts or restarts; answers every
  // local agent, for the caller to stop (spread over the scheduler).
  caf::replies_to<shutdown_atom>::with<std::vector<agent_actor>>,
  // Membership: `node` went down while this side holds the quorum; these
  // are the copies of its agents kept here: they start here (failover).
  caf::reacts_to<failover_atom, std::string, std::vector<agent_snapshot>>,
  // Membership: a member (its supervisor) joined, left, or announced that
  // it is leaving (it then takes no agents).
  caf::reacts_to<peer_up_atom, std::string, caf::actor>,
  caf::reacts_to<peer_down_atom, std::string>,
  caf::reacts_to<leave_atom, std::string>,
  // Membership: the quorum came or went; agents re-check their backup.
  caf::reacts_to<backup_atom>>;

/// A directory entry: where an agent lives and how to reach it.
struct dir_entry {
  std::string name;
  std::string node;
  agent_actor handle;
  int64_t started_at = 0; // microseconds since the epoch
  /// Incremented by every move of the agent; the higher one wins.
  uint64_t generation = 0;
  /// This node's agents only (never sent to peers): what GetAgentState
  /// reads without a message to the agent.
  std::shared_ptr<const agent_board> board;
};

/// The only writer of the node's directory map. Holds this node's agents
/// and those of every connected node, replicating local changes to the
/// directories of its peers.
using directory_actor = caf::typed_actor<
  // Inserts a local entry; answers "" on success, else the holder's node.
  caf::replies_to<put_atom, dir_entry>::with<std::string>,
  // The same for a group of entries, one answer each (in order); answers
  // once every connected node knows the inserted ones.
  caf::replies_to<put_atom, std::vector<dir_entry>>::with<
    std::vector<std::string>>,
  // A moved agent arrived here (generation + 1): inserts or replaces its
  // entry; answers once every connected node knows it.
  caf::replies_to<move_atom, dir_entry>::with<bool>,
  // Inserts or replaces a local entry (a restarted agent's new handle).
  caf::reacts_to<update_atom, dir_entry>,
  // Removes a local entry if it still points at this handle.
  caf::replies_to<erase_atom, std::string, agent_actor>::with<bool>,
  // From a peer: an entry was added or replaced there (conflict rule);
  // answers once applied.
  caf::replies_to<replicate_atom, dir_entry>::with<bool>,
  // From a peer: a group of entries added there (as above, in order).
  caf::replies_to<replicate_atom, std::vector<dir_entry>>::with<bool>,
  // From a peer: its agent `name` on `node` is gone; answers once applied.
  caf::replies_to<erase_atom, std::string, std::string>::with<bool>,
  // A node joined: its directory (we send it our local entries).
  caf::reacts_to<peer_up_atom, std::string, caf::actor>,
  // From a peer: all its local entries (replaces what we hold of it).
  caf::reacts_to<sync_atom, std::string, std::vector<dir_entry>>,
  // A node left: removes all its entries before answering.
  caf::replies_to<peer_down_atom, std::string>::with<bool>,
  // Finds an agent; `ask_peers` widens a miss to every peer (bounded).
  caf::replies_to<lookup_atom, std::string, bool>::with<std::vector<dir_entry>>,
  // The agent that holds a task, here or (with `ask_peers`) on any peer.
  caf::replies_to<locate_atom, std::string, bool>::with<std::vector<dir_entry>>,
  // ListTasks: one page of tasks, here or (with `ask_peers`) cluster-wide.
  caf::replies_to<list_atom, task_query, bool>::with<task_page>,
  // A handle failed when used: drop the entry if it still holds it.
  caf::reacts_to<stop_atom, std::string, agent_actor>,
  // This node's own entries (the snapshot a joining peer receives).
  caf::replies_to<caf::get_atom>::with<std::vector<dir_entry>>,
  // Answers once the sender's earlier messages are handled: the
  // supervisor's updates of recovered agents are in the map after it.
  caf::replies_to<sync_atom>::with<bool>,
  // From the node's supervisor, once: where local agents without a handle
  // (dormant) are stopped when they lose a name conflict.
  caf::reacts_to<watch_atom, caf::actor>,
  // From the supervisor: a local agent is moving (true) or stays (false).
  // A peer's lookup of a moving agent is answered once its new entry is
  // known.
  caf::reacts_to<move_atom, std::string, bool>>;

/// Delivers events to local subscribers, one CAF group per topic.
using event_bus_actor = caf::typed_actor<
  // Publishes an event to its topics.
  caf::reacts_to<publish_atom, event>,
  // Subscribes an actor to topics until it terminates.
  caf::replies_to<subscribe_atom, std::vector<std::string>,
                  caf::actor>::with<bool>,
  // Events from a peer's bus, in the order published there: delivered
  // here, not forwarded again.
  caf::reacts_to<forward_atom, std::vector<event>>,
  // Forwards the agent events published since the last flush to the peers
  // (sent to itself: queued behind the messages already in its mailbox).
  caf::reacts_to<flush_atom>,
  // A node joined (its bus) or left.
  caf::reacts_to<peer_up_atom, std::string, caf::actor>,
  caf::reacts_to<peer_down_atom, std::string>>;

// -- cluster membership -------------------------------------------------------

/// First handshake step: who is asking, and a fresh nonce.
struct hello_msg {
  std::string node;
  std::string address; // advertised host:port
  std::string nonce;
};

/// The server's answer: its proof over the client's nonce, and its own.
struct challenge_msg {
  std::string node;
  std::string nonce;
  std::string mac;
};

/// What a member hands out once authenticated.
struct peer_info {
  std::string node;
  std::string address; // advertised host:port
  directory_actor directory;
  event_bus_actor bus;
  supervisor_actor supervisor;
  replica_actor replicas; // invalid without agents.replicas
  /// The node keeps its agents in a store (it brings them back itself after
  /// a restart).
  bool durable = false;
};

/// The answer to a successful join.
struct welcome_msg {
  peer_info info;
  std::vector<std::string> members; // advertised addresses
};

/// One per node, published on `cluster.port`: authenticates peers, keeps a
/// full mesh, detects nodes going down and coming back.
using membership_actor = caf::typed_actor<
  // Handshake step 1: answers a challenge proving the cookie.
  caf::replies_to<hello_atom, hello_msg>::with<challenge_msg>,
  // Handshake step 2 (nonce of the challenge, proof, the client's info).
  caf::replies_to<join_atom, std::string, std::string,
                  peer_info>::with<welcome_msg>,
  // Addresses of members another member knows.
  caf::reacts_to<gossip_atom, std::vector<std::string>>,
  // Starts joining once published, with the advertised host:port.
  caf::reacts_to<start_atom, std::string>,
  // Timers: gossip round, and a (re)connect attempt to an address.
  caf::reacts_to<tick_atom>,
  caf::reacts_to<retry_atom, std::string>,
  // Timers: decide on failover for the nodes seen down meanwhile (valid
  // for the given round only); take the quorum back (true: nobody came
  // since start-up).
  caf::reacts_to<decide_atom, uint64_t>,
  caf::reacts_to<quorum_atom, bool>,
  // GetClusterInfo.
  caf::replies_to<info_atom>::with<cluster_info>,
  // From this node: tell every member that we leave (answers once they
  // know, or after the connect timeout).
  caf::replies_to<leave_atom>::with<bool>,
  // From a member: it is leaving.
  caf::replies_to<leave_atom, std::string>::with<bool>>;

// -- HTTP request workers ----------------------------------------------------

namespace http {

struct call_result;

/// Where a worker hands what a call produced when the caller is not an
/// actor (the HTTP loop): thread-safe, local only.
class reply_sink {
public:
  virtual ~reply_sink() = default;

  /// The answer to call `id`.
  virtual void result(uint64_t id, call_result res) = 0;

  /// The actor that feeds the task stream of call `id` (it gets
  /// `stream_event`s from agents): stopped when the client goes.
  virtual void relay(uint64_t id, caf::actor relay) = 0;

  /// An event of the task stream of call `id`; the last one ends it.
  virtual void event(uint64_t id, std::string data, bool last) = 0;
};

/// One call from a connection.
struct call {
  enum kind_t : uint8_t { rpc = 0, agent_card = 1 };
  uint8_t kind = rpc;
  /// The endpoint's agent: `POST /agents/<name>/a2a` and agent cards.
  std::string agent;
  std::string body;
  /// `A2A-Version` of the request ("" when absent).
  std::string version;
  /// `host:port` the client used, for URLs in cards.
  std::string host;
  /// The request's W3C trace (its `traceparent`, else a new one).
  std::string trace_id;
  /// The connection and the request's number on it: events of a stream go
  /// there as `stream_event`s.
  caf::actor sink;
  uint64_t seq = 0;
  /// Set by the HTTP loop: the answer goes there, not to the sender, and a
  /// stream gets a relay actor as its sink (`seq` is the call's id). Not
  /// serialised: calls never leave the node.
  std::shared_ptr<reply_sink> reply;
};

/// What the worker answers.
struct call_result {
  /// 200, 204 (nothing to send: notifications) or 404 (no such agent).
  int status = 200;
  std::string body; // JSON
  /// A stream started: its events come from the agent, the last one ends
  /// it.
  bool stream = false;
};

/// A request worker. `tick` is its own timer (it expires calls to agents
/// that took longer than the request timeout); only the latest counts.
using worker_actor
  = caf::typed_actor<caf::replies_to<rpc_atom, call>::with<call_result>,
                     caf::reacts_to<tick_atom, uint64_t>>;

} // namespace http

} // namespace am

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(am::agent_parcel)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<am::start_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<am::start_answer>)
