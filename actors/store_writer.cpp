#include "actors/store_writer.hpp"

#include <caf/all.hpp>

#include "core/log.hpp"

namespace am {

store_actor::behavior_type store_writer(store_writer_pointer self,
                                        std::shared_ptr<store> db,
                                        std::shared_ptr<node_metrics> metrics) {
  self->state.db = std::move(db);
  return {
    [self](store_atom, agent_delta& d) -> caf::result<bool> {
      auto& st = self->state;
      auto rp = self->make_response_promise<bool>();
      if (!empty(d))
        st.batch.push_back(std::move(d));
      st.waiting.push_back(rp);
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return rp;
    },
    [self, metrics](flush_atom) {
      auto& st = self->state;
      st.flush_scheduled = false;
      auto batch = std::move(st.batch);
      auto waiting = std::move(st.waiting);
      st.batch.clear();
      st.waiting.clear();
      caf::error err;
      if (!batch.empty()) {
        try {
          auto t0 = std::chrono::steady_clock::now();
          st.db->write(batch);
          if (metrics)
            metrics->store_commit.observe(
              seconds_between(t0, std::chrono::steady_clock::now()));
        } catch (const std::exception& e) {
          log::error(std::string{"[Store] commit failed: "} + e.what());
          err = make_error(errc::store_failed, e.what());
        }
      }
      for (auto& rp : waiting)
        if (err)
          rp.deliver(err);
        else
          rp.deliver(true);
    },
  };
}

} // namespace am
