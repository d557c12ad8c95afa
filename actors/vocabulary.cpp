#include "actors/vocabulary.hpp"

#include <caf/actor_system_config.hpp>


namespace am {

namespace {

constexpr caf::atom_value category = caf::atom("agentmesh");

} // namespace

const char* to_string(errc x) {
  switch (x) {
    case errc::agent_not_found:
      return "agent_not_found";
    case errc::task_not_found:
      return "task_not_found";
    case errc::agent_crashed:
      return "agent_crashed";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::shutting_down:
      return "shutting_down";
    case errc::unauthorized:
      return "unauthorized";
    case errc::not_cancelable:
      return "not_cancelable";
    case errc::task_finished:
      return "task_finished";
    case errc::store_failed:
      return "store_failed";
    case errc::no_quorum:
      return "no_quorum";
    case errc::inbox_full:
      return "inbox_full";
  }
  return "unknown";
}

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), category};
}

caf::error make_error(errc x, std::string context) {
  return caf::error{static_cast<uint8_t>(x), category,
                    caf::make_message(std::move(context))};
}

uint8_t code_of(const caf::error& err) {
  // An empty error has no category (CAF 0.17 dereferences null).
  return err && err.category() == category ? err.code() : 0;
}

std::string context_of(const caf::error& err) {
  if (!err || err.category() != category
      || !err.context().match_elements<std::string>())
    return {};
  return err.context().get_as<std::string>(0);
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<start_result>("am::start_result");
  cfg.add_message_type<agent_status>("am::agent_status");
  cfg.add_message_type<process_result>("am::process_result");
  cfg.add_message_type<json_box>("am::json");
  cfg.add_message_type<task_view>("am::task_view");
  cfg.add_message_type<task_query>("am::task_query");
  cfg.add_message_type<task_page>("am::task_page");
  cfg.add_message_type<agent_info>("am::agent_info");
  cfg.add_message_type<stream_event>("am::stream_event");
  cfg.add_message_type<submit_request>("am::submit_request");
  cfg.add_message_type<agent_location>("am::agent_location");
  cfg.add_message_type<std::vector<agent_location>>("am::agent_locations");
  cfg.add_message_type<cluster_info>("am::cluster_info");
  cfg.add_message_type<event>("am::event");
  cfg.add_message_type<std::vector<event>>("am::events");
  cfg.add_message_type<dir_entry>("am::dir_entry");
  cfg.add_message_type<agent_delta>("am::agent_delta");
  cfg.add_message_type<agent_snapshot>("am::agent_snapshot");
  cfg.add_message_type<std::vector<agent_snapshot>>("am::agent_snapshots");
  cfg.add_message_type<store_actor>("am::store_actor");
  cfg.add_message_type<replica_actor>("am::replica_actor");
  cfg.add_message_type<std::vector<dir_entry>>("am::dir_entries");
  cfg.add_message_type<agent_actor>("am::agent_actor");
  cfg.add_message_type<supervisor_actor>("am::supervisor_actor");
  cfg.add_message_type<directory_actor>("am::directory_actor");
  cfg.add_message_type<event_bus_actor>("am::event_bus_actor");
  cfg.add_message_type<membership_actor>("am::membership_actor");
  cfg.add_message_type<hello_msg>("am::hello_msg");
  cfg.add_message_type<challenge_msg>("am::challenge_msg");
  cfg.add_message_type<peer_info>("am::peer_info");
  cfg.add_message_type<welcome_msg>("am::welcome_msg");
  cfg.add_message_type<http::call>("am::http::call");
  cfg.add_message_type<http::call_result>("am::http::call_result");
  cfg.add_error_category(category, [](uint8_t code, caf::atom_value,
                                      const caf::message& ctx) {
    std::string result = "agentmesh: ";
    result += to_string(static_cast<errc>(code));
    if (ctx.match_elements<std::string>()) {
      result += " (";
      result += ctx.get_as<std::string>(0);
      result += ")";
    }
    return result;
  });
}

} // namespace am
