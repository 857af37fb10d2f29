// The page's fixed elements (index.html), looked up once. Module scripts run after
// the document is parsed, so every element exists when this module is evaluated.
const $ = (id) => document.getElementById(id);

export const ui = {
  app: $('app'), sidebar: $('sidebar'), toggle: $('sidebar-toggle'), toggleLabel: $('sidebar-toggle-label'), scrim: $('scrim'),
  roomHash: $('room-hash'), roomTitle: $('room-title'), headerCount: $('header-count'),
  conn: $('conn'), connText: $('conn-text'), retryNow: $('retry-now'),
  roomList: $('room-list'), joinForm: $('join-form'), joinInput: $('join-input'), joinError: $('join-error'),
  browseBtn: $('browse-btn'), dmList: $('dm-list'), dmEmpty: $('dm-empty'),
  memberList: $('member-list'), peopleCount: $('people-count'),
  nickForm: $('nick-form'), nickInput: $('nick-input'), nickError: $('nick-error'),
  notifyInput: $('notify-input'), notifyHint: $('notify-hint'),
  searchForm: $('search-form'), searchInput: $('search-input'),
  searchPanel: $('search-panel'), searchSummary: $('search-summary'), searchResults: $('search-results'),
  searchClose: $('search-close'),
  scroller: $('scroller'), logHolder: $('log-holder'), loadOlder: $('load-older'), jumpNew: $('jump-new'),
  notices: $('notices'), announcer: $('announcer'), typing: $('typing'),
  composer: $('composer'), input: $('msg-input'), msgLabel: $('msg-label'), byteCounter: $('byte-counter'),
  nameDialog: $('name-dialog'), nameForm: $('name-form'), nameInput: $('name-input'), nameError: $('name-error'),
  browseDialog: $('browse-dialog'), browseList: $('browse-list'), browseStatus: $('browse-status'),
  browseClose: $('browse-close'),
  composerHint: $('composer-hint'),
};
