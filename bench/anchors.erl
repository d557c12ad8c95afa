%% The Erlang anchors of bench/compare, compiled by it into a scratch folder.
%% Each function prints one line of key=value figures and halts.
-module(anchors).
-export([ets_lookups/1, spawn_agents/1, rpc_rtt/1, watch_node/1]).

%% ETS lookups with read_concurrency from 1 and 2 processes.
%% Args: [Seconds, Names].
ets_lookups([S, N]) ->
    Seconds = list_to_integer(atom_to_list(S)),
    Count = list_to_integer(atom_to_list(N)),
    T = ets:new(dir, [set, public, {read_concurrency, true}]),
    Keys = list_to_tuple([key(I) || I <- lists:seq(0, Count - 1)]),
    [ets:insert(T, {key(I), I, <<"bench@host">>}) || I <- lists:seq(0, Count - 1)],
    lists:foreach(
      fun(Procs) ->
              Self = self(),
              Until = erlang:monotonic_time(millisecond) + Seconds * 1000,
              Pids = [spawn_link(fun() -> Self ! {done, lookup_loop(T, Keys, Count, Until, 0, 0)} end)
                      || _ <- lists:seq(1, Procs)],
              Results = [receive {done, R} -> R end || _ <- Pids],
              Total = lists:sum([L || {L, _} <- Results]),
              Misses = lists:sum([M || {_, M} <- Results]),
              io:format("threads=~p lookups=~p seconds=~p per_second=~p misses=~p~n",
                        [Procs, Total, Seconds, Total div Seconds, Misses])
      end, [1, 2]),
    halt().

key(I) -> <<"agent-", (integer_to_binary(I))/binary>>.

lookup_loop(T, Keys, Count, Until, N, Misses) ->
    case N rem 256 =:= 0 andalso erlang:monotonic_time(millisecond) >= Until of
        true -> {N, Misses};
        false ->
            K = element(rand:uniform(Count), Keys),
            M = case ets:lookup(T, K) of [_] -> Misses; [] -> Misses + 1 end,
            lookup_loop(T, Keys, Count, Until, N + 1, M)
    end.

%% Spawns N processes holding a small map (an agent's name and memory), then
%% N bare ones. Args: [N].
spawn_agents([A]) ->
    N = list_to_integer(atom_to_list(A)),
    garbage_collect(),
    M0 = erlang:memory(processes),
    T0 = erlang:monotonic_time(microsecond),
    Agents = [spawn(fun() -> agent(#{name => key(I), memory => #{}, tasks => []}) end)
              || I <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(microsecond),
    M1 = erlang:memory(processes),
    [P ! stop || P <- Agents],
    wait_gone(Agents),
    garbage_collect(),
    B0 = erlang:memory(processes),
    Bare = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    B1 = erlang:memory(processes),
    [P ! stop || P <- Bare],
    io:format("agents=~p seconds=~.3f bytes_per_agent=~p bytes_per_bare_process=~p~n",
              [N, (T1 - T0) / 1.0e6, (M1 - M0) div N, (B1 - B0) div N]),
    halt().

agent(State) ->
    receive
        stop -> ok;
        {get, From} -> From ! State, agent(State)
    end.

wait_gone([]) -> ok;
wait_gone([P | Ps]) ->
    case is_process_alive(P) of
        true -> timer:sleep(1), wait_gone([P | Ps]);
        false -> wait_gone(Ps)
    end.

%% rpc:call round trips to node Node (erlang:node/0 there), one at a time.
%% Args: [Node, Calls].
rpc_rtt([Node, C]) ->
    Calls = list_to_integer(atom_to_list(C)),
    connect(Node, 200),
    [rpc:call(Node, erlang, node, []) || _ <- lists:seq(1, 1000)],
    Ts = lists:sort([element(1, timer:tc(rpc, call, [Node, erlang, node, []]))
                     || _ <- lists:seq(1, Calls)]),
    io:format("calls=~p p50_us=~p p99_us=~p~n",
              [Calls, lists:nth(Calls div 2, Ts), lists:nth(Calls * 99 div 100, Ts)]),
    halt().

%% Connects to Node, prints "ready", then prints "nodedown" with the time
%% (ms, monotonic) when the link is lost. Args: [Node].
watch_node([Node]) ->
    connect(Node, 200),
    erlang:monitor_node(Node, true),
    io:format("ready~n"),
    receive {nodedown, Node} -> io:format("nodedown~n") end,
    halt().

connect(Node, 0) -> error({no_connection, Node});
connect(Node, Tries) ->
    case net_adm:ping(Node) of
        pong -> ok;
        pang -> timer:sleep(50), connect(Node, Tries - 1)
    end.
