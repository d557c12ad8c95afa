#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"

namespace am {

/// The deterministic rule for one name on two nodes: the higher generation
/// wins (a moved agent over the copy it left behind), then the older start
/// (a name started on two nodes at once), then the smaller node name. Both
/// nodes apply it and only the loser's node stops its agent.
bool wins_conflict(const dir_entry& x, const dir_entry& y);

struct directory_state;

using directory_pointer = directory_actor::stateful_pointer<directory_state>;

/// The directory actor's state and logic.
struct directory_state {
  directory_pointer self = nullptr;
  node_context_ptr ctx;
  std::chrono::milliseconds timeout{2000};
  /// Monitored local handles and the names they are stored under.
  std::unordered_map<caf::actor_addr, std::string> watched;
  /// Directories of the connected nodes.
  std::map<std::string, directory_actor> peers;
  /// Local agents moving to another node, and peers' lookups of them that
  /// wait for the new entry.
  std::unordered_map<
    std::string,
    std::vector<caf::typed_response_promise<std::vector<dir_entry>>>>
    moving;
  /// Local agents that moved away: peers asking for them get the new entry
  /// (they may ask before the new node's own directory knows it).
  std::unordered_map<std::string, dir_entry> moved;
  /// The node's supervisor (it stops dormant agents: they have no handle).
  supervisor_actor supervisor;
  static inline const char* name = "directory";

  void init(directory_pointer ptr, node_context_ptr context,
            std::chrono::milliseconds peer_timeout);

  // -- local changes --------------------------------------------------------

  void watch(const dir_entry& entry);

  /// Sets `entry` and answers lookups that waited for a move of its name.
  void assign(const dir_entry& entry);

  /// The move of `name` is over: waiting lookups get `answer`.
  void release(const std::string& name, const std::vector<dir_entry>& answer);

  /// Inserts `entry` unless its name is taken: answers the holder's node,
  /// else "" (and appends the entry to `inserted`).
  std::string insert_free(dir_entry& entry, std::vector<dir_entry>& inserted);

  /// `answer`, once every connected node knows the `inserted` entries.
  template <class Answer>
  caf::result<Answer> answer_once_known(Answer answer,
                                        std::vector<dir_entry> inserted);

  caf::result<std::string> put(dir_entry& entry);
  caf::result<std::vector<std::string>> put(std::vector<dir_entry>& entries);
  void update(dir_entry& entry);
  caf::result<bool> erase(const std::string& name, const agent_actor& handle);
  void on_down(const caf::down_msg& dm);

  /// The local agent of `local` lost a name conflict: it stops.
  void lost_conflict(const dir_entry& local);

  // -- peers ----------------------------------------------------------------

  std::vector<directory_actor> peer_list() const;

  /// Sends `xs...` to every peer and calls `done` once each one answered
  /// (or failed to within the timeout).
  template <class... Ts>
  void to_peers(std::function<void()> done, const Ts&... xs);

  /// Applies an entry that a peer reports (snapshot or replication).
  void apply_remote(const dir_entry& entry);

  /// Replaces what we hold of `node`'s agents with its complete list.
  void resync(const std::string& node, const std::vector<dir_entry>& entries);

  void peer_up(const std::string& node, const caf::actor& peer);
  void peer_down(const std::string& node);

  std::vector<dir_entry> local_entries() const;

  // -- queries --------------------------------------------------------------

  caf::result<std::vector<dir_entry>> lookup(const std::string& name,
                                             bool widen);
  caf::result<std::vector<dir_entry>> locate(const std::string& id,
                                             bool widen);
  caf::result<task_page> list(const task_query& q, bool widen);

  /// The local entry of the agent holding task `id`, if this node has it.
  std::optional<dir_entry> task_holder(const std::string& id) const;

  /// The tasks of this node's agents that match `q`: counts, and the first
  /// page after the cursor, fetched from the agents.
  void local_page(const task_query& q, std::function<void(task_page)> done);

  /// Asks every peer with `xs...`; `done` gets the first non-empty answer,
  /// or an empty list.
  template <class... Ts>
  void first_from_peers(std::function<void(std::vector<dir_entry>)> done,
                        const Ts&... xs);
};

/// The single writer of the node's `directory_map`. Monitors every local
/// handle it stores and removes the entry when that actor stops (a crashed
/// agent's entry stays for its supervisor to repoint or remove, so the name
/// never vanishes during a restart). Replicates local changes to
/// its peers and applies theirs, resolving name conflicts.
directory_actor::behavior_type
directory(directory_pointer self, node_context_ptr ctx,
          std::chrono::milliseconds peer_timeout);

} // namespace am
