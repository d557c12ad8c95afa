#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"

namespace am {

/// What membership dials peers through: CAF's middleman actor, or the
/// cluster gate's connector (app/cluster_gate.hpp), which authenticates a
/// connection before CAF's node protocol sees it.
using connector_actor = caf::typed_actor<
  caf::replies_to<caf::connect_atom, std::string, uint16_t>::with<
    caf::node_id, caf::strong_actor_ptr, std::set<std::string>>>;

/// Settings of the membership actor (`[cluster]`).
struct membership_config {
  std::string cookie;
  std::vector<std::string> seeds; // host:port
  std::chrono::milliseconds connect_timeout{2000};
  /// Time for a dial (connect and the cluster port's handshake).
  std::chrono::milliseconds dial_timeout{2000};
  /// Period of gossip rounds; 0 gossips only on joins (simulated networks).
  std::chrono::milliseconds gossip_interval{1000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{1000};
  /// With replicas: this node's replica keeper, and how long it waits
  /// after a node went down before deciding on failover (downs that
  /// arrive together, as on a partition, are judged together).
  replica_actor keeper;
  std::chrono::milliseconds settle{500};
  /// Start without the quorum until a member is reached (a node whose
  /// store brought agents back must not acknowledge changes to agents the
  /// cluster may have failed over meanwhile).
  bool await_quorum = false;
  std::chrono::milliseconds await_timeout{5000};
};

/// A connected, authenticated node.
struct member {
  std::string address; // advertised host:port
  std::string dialed;  // the address we connected to, if we did
  membership_actor handle;
  caf::node_id nid;
};

/// An address this node wants to be connected to.
///
/// ```
///             connect ok + handshake ok
///  [idle] ──► [connecting] ────────────────► [connected]
///    ▲            │ refused / timeout              │ down_msg
///    │            ▼                                ▼
///    └──── retry after backoff (100 ms doubling, at most 1 s) ◄──┘
/// ```
struct target {
  enum state_t { idle, connecting, connected } state = idle;
  std::chrono::milliseconds backoff{0};
  bool retry_scheduled = false;
  bool warned = false;
};

/// A challenge this node issued and awaits the proof for.
struct pending_challenge {
  std::string node;
  std::string client_nonce;
  caf::actor_clock::time_point issued;
};

struct membership_state;

using membership_pointer = membership_actor::stateful_pointer<membership_state>;

/// The membership actor's state and logic.
struct membership_state {
  membership_pointer self = nullptr;
  node_context_ptr ctx;
  membership_config cfg;
  connector_actor mm;
  directory_actor directory;
  event_bus_actor bus;
  supervisor_actor supervisor;
  std::string address; // own advertised host:port; empty until started
  std::map<std::string, member> members; // by node name
  std::map<std::string, target> targets; // by address
  std::map<std::string, pending_challenge> challenges; // by server nonce
  /// Keep-majority (with replicas): the last agreed members (this node
  /// included), members that announced their leave, and nodes seen down
  /// whose failover is not decided yet.
  std::set<std::string> agreed;
  std::set<std::string> leavers;
  std::map<std::string, caf::node_id> suspects; // with their incarnation
  bool decision_scheduled = false;
  uint64_t decision_round = 0;
  bool regain_scheduled = false;
  static inline const char* name = "membership";

  const std::string& node();

  std::vector<std::string> connected();

  std::vector<std::string> addresses();

  /// True if the current message comes from this node or from a member.
  /// Only the handshake is open to strangers; everything else is ignored.
  bool trusted();

  void publish(const char* name, const std::string& who);

  // -- connecting -------------------------------------------------------------

  void schedule_retry(const std::string& address);

  void failed(const std::string& address, const std::string& why);
  /// A failed request to `address`; a refused cookie (`errc::unauthorized`)
  /// is warned about once per address: "<address><refusal>: cookie mismatch".
  void failed(const std::string& address, const caf::error& err,
              const char* refusal);
  /// Logs `text` as a warning unless `address` was warned about already.
  void warn_once(const std::string& address, const std::string& text);

  void connect(const std::string& address);

  /// Client side: hello -> verify the server's proof -> join.
  void handshake(const std::string& address, membership_actor peer,
                 caf::node_id nid);

  void join(const std::string& address, membership_actor peer,
            caf::node_id nid, std::string server_nonce,
            std::string proof);

  /// What this node hands to an authenticated peer.
  peer_info info();

  // -- membership changes -----------------------------------------------------

  /// Marks an address as connected to a member.
  void reached(const std::string& address);

  /// `dialed` is the address we connected to (may differ from the one the
  /// peer advertises, e.g. a seed written as localhost); empty on the
  /// server side.
  void add_member(const peer_info& info, const membership_actor& handle,
                  const caf::node_id& nid, const std::string& dialed);

  void member_down(const std::string& node_name,
                   std::function<void()> then = nullptr);

  // -- failover ---------------------------------------------------------------

  /// This node and its members.
  std::set<std::string> reachable();

  /// Recomputes the quorum flag of the cluster view (without deciding).
  /// Losing it takes effect at once, regaining it after the settle time
  /// (or at once with `now`).
  void update_quorum(bool now = false);

  /// Decides for every node seen down: with the quorum their agents whose
  /// replicas are here start here; without it the copies go.
  void decide();

  /// Takes the copies of `node`'s agents out of the replica keeper: they
  /// start here (`promote`) or go.
  void release(const std::string& node, bool promote);
};

/// Cluster membership: authenticates peers with the cookie, keeps a full
/// mesh by gossiping member addresses, monitors each member's membership
/// actor (a down_msg means the node is down), purges and resynchronises the
/// directory and tells the bus about peers.
membership_actor::behavior_type
membership(membership_pointer self, node_context_ptr ctx,
           membership_config cfg, connector_actor mm,
           directory_actor directory, event_bus_actor bus,
           supervisor_actor supervisor);

} // namespace am
