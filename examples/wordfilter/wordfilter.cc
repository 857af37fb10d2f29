/*
 * wordfilter: a word filter in C++, as a third party writes one. Words from
 * its list are masked (or, with action = deny, the message is refused) in
 * room messages AND in private messages (CHATD_EV_PRIVATE: /msg, /w and
 * {"type":"private"} frames alike; on a core without that event the MESSAGE
 * hook runs before privmsg takes /msg out of the room instead), and names
 * containing one are refused (CHATD_EV_NICK: at connect the client becomes a
 * guest and is told why; a rename is refused). Matching ignores ASCII case and
 * finds whole words only ("ass" is not in "class").
 *
 * Build it against the installed SDK (docs/plugins.md): the header is
 * extern "C" and declares the entry points, so a C++ plugin needs nothing more
 *   c++ -std=c++17 -shared -fPIC $(pkg-config --cflags chatd-plugin) wordfilter.cc -o wordfilter.so
 *
 *   [plugin wordfilter]
 *   path = /path/to/wordfilter.so
 *   words = darn heck            (space-separated; or words_file = FILE, one per line)
 *   action = mask                (mask: "d**n"; deny: refuse the message)
 *
 * Options can change without a restart: SIGHUP re-reads them (CHATD_EV_RELOAD).
 */
#include <chatd/plugin.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

namespace {

/* Where the MESSAGE hook runs. With CHATD_EV_PRIVATE (every private message
 * passes it) at the default priority, with the other filters; on an older core
 * after a rate limiter (CHATD_PRIO_EARLY) and before privmsg takes "/msg" out of
 * the room (CHATD_PRIO_EARLY + 10), so that private messages are filtered too. */
constexpr int FILTER_PRIO = CHATD_PRIO_DEFAULT;
constexpr int FILTER_PRIO_OLD_CORE = CHATD_PRIO_EARLY + 5;

struct Settings {
	std::vector<std::string> words; // lower case
	bool deny = false;
};

struct Filter {
	const chatd_api *api = nullptr;
	chatd_plugin *self = nullptr;
	Settings settings;
	std::string error; // the last denial's message: must outlive the hook
};

bool word_char(unsigned char c) { return std::isalnum(c) || c >= 0x80 || c == '_'; }

std::string lower(std::string s)
{
	for (auto &c : s)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return s;
}

/* Where the listed words stand in text, as (start, length) pairs. */
std::vector<std::pair<size_t, size_t>> find_words(const Settings &st, const std::string &text)
{
	std::vector<std::pair<size_t, size_t>> found;
	const std::string low = lower(text);
	for (const auto &w : st.words)
		for (size_t at = low.find(w); at != std::string::npos; at = low.find(w, at + 1)) {
			bool starts = at == 0 || !word_char(static_cast<unsigned char>(low[at - 1]));
			bool ends = at + w.size() == low.size() || !word_char(static_cast<unsigned char>(low[at + w.size()]));
			if (starts && ends)
				found.emplace_back(at, w.size());
		}
	return found;
}

/* Parse options into st. Empty string, or the option error to report (and
 * its index in opts). */
std::string parse(const chatd_option *opts, int nopts, Settings &st, int &bad)
{
	for (int i = 0; i < nopts; i++) {
		bad = i;
		std::string key = opts[i].key, value = opts[i].value;
		if (key == "words") {
			std::istringstream in(value);
			for (std::string w; in >> w;)
				st.words.push_back(lower(w));
		} else if (key == "words_file") {
			std::ifstream in(value);
			if (!in)
				return "cannot read " + value;
			for (std::string w; std::getline(in, w);) {
				while (!w.empty() && std::isspace(static_cast<unsigned char>(w.back())))
					w.pop_back();
				if (!w.empty() && w[0] != '#')
					st.words.push_back(lower(w));
			}
		} else if (key == "action") {
			if (value != "mask" && value != "deny")
				return "must be mask or deny";
			st.deny = value == "deny";
		} else {
			return "unknown option (wordfilter knows words, words_file and action)";
		}
	}
	bad = -1;
	return st.words.empty() ? "no words: give words = ... or words_file = FILE" : "";
}

/* A room or private message's text: CHATD_OK (text untouched, or masked
 * into `masked`) or CHATD_DENY (error_message set). */
template <typename Event> int filter_text(Filter *f, Event *ev, std::string &masked, bool &changed)
{
	masked.assign(ev->text, ev->text_len);
	changed = false;
	auto found = find_words(f->settings, masked);
	if (found.empty())
		return CHATD_OK;
	f->api->counter_add(f->self, "filtered", 1);
	if (f->settings.deny) {
		f->error = "that message has a word this chat does not allow";
		ev->error_code = "filtered";
		ev->error_message = f->error.c_str();
		return CHATD_DENY;
	}
	for (const auto &[at, len] : found) // keep the first letter: "d***"
		for (size_t i = at + 1; i < at + len; i++)
			masked[i] = '*';
	changed = true;
	return CHATD_OK;
}

int message_impl(void *event, void *userdata)
{
	auto *ev = static_cast<chatd_message_event *>(event);
	auto *f = static_cast<Filter *>(userdata);
	std::string text;
	bool changed;
	int r = filter_text(f, ev, text, changed);
	if (changed)
		f->api->message_set_text(ev, text.c_str());
	return r;
}

int private_impl(void *event, void *userdata)
{
	auto *ev = static_cast<chatd_private_event *>(event);
	auto *f = static_cast<Filter *>(userdata);
	std::string text;
	bool changed;
	int r = filter_text(f, ev, text, changed);
	if (changed)
		f->api->private_set_text(ev, text.c_str());
	return r;
}

int nick_impl(void *event, void *userdata)
{
	auto *ev = static_cast<chatd_nick_event *>(event);
	auto *f = static_cast<Filter *>(userdata);
	if (find_words(f->settings, ev->new_name).empty())
		return CHATD_OK;
	f->api->counter_add(f->self, "names_refused", 1);
	ev->error_code = "name_refused";
	ev->error_message = "that name has a word this chat does not allow";
	return CHATD_DENY;
}

int reload_impl(void *event, void *userdata)
{
	auto *ev = static_cast<chatd_reload_event *>(event);
	auto *f = static_cast<Filter *>(userdata);
	Settings st;
	int bad = -1;
	std::string why = parse(ev->opts, ev->nopts, st, bad);
	if (!why.empty()) {
		f->api->option_error(f->self, bad >= 0 ? &ev->opts[bad] : nullptr, "%s", why.c_str());
		return CHATD_DENY;
	}
	f->settings = std::move(st);
	return CHATD_OK;
}

/* The hooks the core calls: no C++ exception may unwind into the C core
 * (std::bad_alloc from a string): out of memory lets the message pass. */
int on_message(int, void *event, void *userdata)
{
	try {
		return message_impl(event, userdata);
	} catch (...) {
		return CHATD_OK;
	}
}

int on_private(int, void *event, void *userdata)
{
	try {
		return private_impl(event, userdata);
	} catch (...) {
		return CHATD_OK;
	}
}

int on_nick(int, void *event, void *userdata)
{
	try {
		return nick_impl(event, userdata);
	} catch (...) {
		return CHATD_OK;
	}
}

int on_reload(int, void *event, void *userdata)
{
	try {
		return reload_impl(event, userdata);
	} catch (...) {
		return CHATD_DENY; // keeps the old words
	}
}

} // namespace

CHATD_PLUGIN_DEFINE_VERSION();

/* The header declared these extern "C": the definitions keep C linkage. */
int chatd_plugin_init(chatd_plugin *self, const chatd_api *api, const chatd_option *opts, int nopts,
		      void **userdata)
{
	if (!CHATD_API_HAS(api, connect_refuse_name)) { // CHATD_EV_NICK came with it
		api->option_error(self, nullptr, "this chatd is too old for wordfilter (no CHATD_EV_NICK)");
		return -1;
	}
	std::unique_ptr<Filter> f(new (std::nothrow) Filter);
	if (!f)
		return -1;
	f->api = api;
	f->self = self;
	int bad = -1;
	try {
		std::string why = parse(opts, nopts, f->settings, bad);
		if (!why.empty()) {
			api->option_error(self, bad >= 0 ? &opts[bad] : nullptr, "%s", why.c_str());
			return -1; // unique_ptr frees f: cleanup is not called after a failed init
		}
	} catch (const std::exception &e) { // no exception may cross into the C core
		api->option_error(self, nullptr, "%s", e.what());
		return -1;
	}
	// Private messages: CHATD_EV_PRIVATE when the core has it (issue 16's
	// api->private_set_text came with it), else the early MESSAGE hook.
	bool private_event = CHATD_API_HAS(api, private_set_text);
	if ((private_event && api->hook_register(self, CHATD_EV_PRIVATE, on_private, f.get(), CHATD_PRIO_DEFAULT)) ||
	    api->hook_register(self, CHATD_EV_MESSAGE, on_message, f.get(),
			       private_event ? FILTER_PRIO : FILTER_PRIO_OLD_CORE) ||
	    api->hook_register(self, CHATD_EV_NICK, on_nick, f.get(), CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_RELOAD, on_reload, f.get(), CHATD_PRIO_DEFAULT))
		return -1;
	*userdata = f.release();
	return 0;
}

void chatd_plugin_cleanup(void *userdata)
{
	delete static_cast<Filter *>(userdata);
}
