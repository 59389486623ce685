// The page: sign-in, conversation list, messages, files with progress, the safety number,
// and beside it what the server stores. All logic lives in chat.js.

import './style.css';

import { ChatError, ChatSession } from './chat.js';
import { DemoServer, toBase64Url } from './relay.js';

const server = new DemoServer(window.location.origin);
const $ = (testId) => document.querySelector(`[data-testid="${testId}"]`);

let session = null;
let current = null;

/** Builds an element: `h('li', { class: 'x', 'data-testid': 'y' }, 'text', child)`. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** What to tell a person about an error: what happened and what to do, never a stack. */
function friendly(error) {
  if (error instanceof ChatError) return error.message;
  switch (error?.code) {
    case 'server_unreachable':
    case 'network':
      return `Cannot reach the Tessera server at ${server.baseUrl}. Is scripts/run still running?`;
    case 'unauthorized':
      return 'Your sign-in expired. Reload the page and sign in again.';
    case 'payload_too_large':
    case 'http_413':
      return 'That file is too big for the demo relay.';
    case 'invalid_identity':
      return 'That name cannot be used. Use lower-case letters, digits, ".", "_" or "-".';
    case 'not_group_initiator':
      return 'Only the person who created the group can change its members.';
    default:
      if (error?.name === 'IntegrityCheckFailedError') {
        return 'This data failed its integrity check: it was changed or was not sent by who it claims.';
      }
      return `Something went wrong: ${error?.message ?? error}${error?.code ? ` (${error.code})` : ''}`;
  }
}

function showError(testId, error) {
  $(testId).textContent = error ? friendly(error) : '';
  if (error && !(error instanceof ChatError) && !error.code) console.error(error);
}

// ---- sign-in -----------------------------------------------------------------------------

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.elements.name.value.trim().toLowerCase();
  const password = form.elements.password.value;
  $('sign-in').disabled = true;
  showError('sign-in-error', null);
  try {
    session = await ChatSession.signIn(server, name, password, {
      onStatus: (text) => {
        $('sign-in-status').textContent = text;
      },
    });
  } catch (error) {
    $('sign-in-status').textContent = '';
    showError('sign-in-error', error);
    $('sign-in').disabled = false;
    return;
  }
  const how = { device: 'key found in this browser', restored: 'key restored from your backup', registered: 'new keys, backed up' };
  $('whoami').textContent = `signed in as ${session.identity} (${how[session.how]})`;
  document.getElementById('sign-in').hidden = true;
  document.getElementById('chat').hidden = false;
  session.addEventListener('change', render);
  session.start();
  refreshContacts();
  render();
});

async function refreshContacts() {
  try {
    const contacts = await session.contacts();
    document.getElementById('contacts').replaceChildren(...contacts.map((name) => h('option', { value: name })));
  } catch {
    // Only a convenience for the name field; the connection banner reports outages.
  }
}

// ---- sidebar -----------------------------------------------------------------------------

$('new-chat-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = event.currentTarget.elements.peer;
  showError('sidebar-error', null);
  try {
    const conversation = await session.openDirect(input.value.trim().toLowerCase());
    input.value = '';
    select(conversation.id);
  } catch (error) {
    showError('sidebar-error', error);
  }
});

$('new-group-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const members = form.elements.members.value.split(/[\s,]+/).map((m) => m.trim().toLowerCase()).filter(Boolean);
  showError('sidebar-error', null);
  try {
    const conversation = await session.createGroup(form.elements.title.value.trim(), members);
    form.reset();
    select(conversation.id);
  } catch (error) {
    showError('sidebar-error', error);
  }
});

function select(conversationId) {
  current = conversationId;
  $('safety').hidden = true;
  $('file-progress-box').hidden = true;
  showError('conversation-error', null);
  render();
}

// ---- conversation ------------------------------------------------------------------------

$('composer').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = event.currentTarget.elements.text;
  const text = input.value;
  if (!text.trim()) return;
  showError('conversation-error', null);
  input.value = '';
  try {
    await session.sendText(current, text);
  } catch (error) {
    input.value = text;
    showError('conversation-error', error);
  }
});

$('file-input').addEventListener('change', async (event) => {
  const file = event.currentTarget.files[0];
  event.currentTarget.value = '';
  if (!file) return;
  const box = $('file-progress-box');
  const bar = $('file-progress');
  const label = $('file-progress-label');
  box.hidden = false;
  box.dataset.state = 'busy';
  showError('conversation-error', null);
  try {
    await session.sendFile(current, file, (phase, done, total) => {
      // Encrypting is the first half of the bar, uploading the second.
      const fraction = total > 0 ? done / total : 0;
      bar.value = phase === 'encrypting' ? fraction / 2 : 0.5 + fraction / 2;
      label.textContent = `${phase} ${file.name}: ${Math.round(fraction * 100)} %`;
    });
    bar.value = 1;
    label.textContent = `sent ${file.name} (${formatSize(file.size)}), end-to-end encrypted`;
    box.dataset.state = 'done';
  } catch (error) {
    box.dataset.state = 'failed';
    label.textContent = `not sent: ${file.name}`;
    showError('conversation-error', error);
  }
});

$('verify').addEventListener('click', async () => {
  const conversation = session.conversations.get(current);
  const panel = $('safety');
  try {
    const number = await session.safetyNumber(conversation.peer);
    panel.replaceChildren(
      h('p', {}, `Compare this number with ${conversation.peer}, in person or on a call. If it is the same on both screens, nobody is in the middle.`),
      h('code', { 'data-testid': 'safety-number' }, number),
    );
    panel.hidden = false;
  } catch (error) {
    showError('conversation-error', error);
  }
});

function messageView(message) {
  const mine = message.from === session.identity;
  let body;
  if (message.system) {
    body = h('em', {}, message.system);
  } else if (message.unreadable) {
    body = h('span', { class: 'locked', 'data-testid': 'unreadable' }, `Locked: ${message.unreadable}`);
  } else if (message.file) {
    message.file.url ??= URL.createObjectURL(message.file.blob);
    body = h(
      'a',
      { href: message.file.url, download: message.file.name, 'data-testid': 'file-link' },
      `File: ${message.file.name} (${formatSize(message.file.size)})`,
    );
  } else {
    body = h('span', { 'data-testid': 'text' }, message.text ?? '');
  }
  return h(
    'li',
    { class: `message ${mine ? 'mine' : ''} ${message.system ? 'system' : ''}`, 'data-testid': 'message', 'data-id': message.id },
    message.system ? null : h('span', { class: 'from' }, message.from),
    body,
    h('time', {}, message.at.toLocaleTimeString()),
  );
}

function storedView(message) {
  return h(
    'li',
    { 'data-testid': 'stored-message' },
    h('div', {}, h('strong', {}, `#${message.id} ${message.kind}`), ` ${message.from} → ${message.stored.to.join(', ')}`),
    h('div', {}, `${formatSize(message.stored.size)} of ciphertext, ${message.at.toISOString()}`),
    h('code', { 'data-testid': 'stored-ciphertext' }, `${toBase64Url(message.stored.head)}…`),
  );
}

function membersView(conversation) {
  const group = conversation.participants ?? [];
  const isInitiator = conversation.initiator === session.identity;
  const items = group.map((member) =>
    h(
      'span',
      { class: 'member', 'data-testid': 'member' },
      member,
      isInitiator && member !== session.identity
        ? h('button', { 'data-testid': `remove-${member}`, title: `remove ${member}`, onclick: () => changeMembers('remove', member) }, '×')
        : null,
    ),
  );
  const add = isInitiator
    ? h(
        'form',
        {
          class: 'add-member',
          onsubmit: (event) => {
            event.preventDefault();
            const input = event.currentTarget.elements.member;
            changeMembers('add', input.value.trim().toLowerCase());
            input.value = '';
          },
        },
        h('input', { name: 'member', placeholder: 'add member', 'data-testid': 'add-member-name' }),
        h('button', { 'data-testid': 'add-member' }, 'Add'),
      )
    : null;
  return [h('span', {}, 'Members: '), ...items, add].filter(Boolean);
}

async function changeMembers(action, member) {
  showError('conversation-error', null);
  try {
    if (action === 'add') await session.addMember(current, member);
    else await session.removeMember(current, member);
    await updateParticipants(session.conversations.get(current));
    render();
  } catch (error) {
    showError('conversation-error', error);
  }
}

async function updateParticipants(conversation) {
  if (conversation?.kind !== 'group' || conversation.youWereRemoved) return;
  try {
    conversation.participants = await session.participants(conversation.id);
  } catch {
    // Shown again on the next change; the conversation itself stays usable.
  }
}

// One render at a time; a change during a render renders again afterwards.
let rendering = false;
let renderAgain = false;
async function render() {
  if (!session) return;
  if (rendering) {
    renderAgain = true;
    return;
  }
  rendering = true;
  try {
    await renderOnce();
  } finally {
    rendering = false;
  }
  if (renderAgain) {
    renderAgain = false;
    render();
  }
}

async function renderOnce() {
  const problem = session.connectionProblem;
  $('connection').hidden = !problem;
  $('connection').textContent = problem ? `${friendly(problem)} Retrying every second…` : '';

  $('conversations').replaceChildren(
    ...[...session.conversations.values()].map((conversation) =>
      h(
        'li',
        {
          class: conversation.id === current ? 'selected' : '',
          'data-testid': 'conversation',
          'data-conversation': conversation.id,
          onclick: () => select(conversation.id),
        },
        h('span', { class: 'tag' }, conversation.kind === 'group' ? 'group' : '1:1'),
        conversation.title,
      ),
    ),
  );

  const conversation = session.conversations.get(current);
  $('composer').hidden = !conversation || conversation.youWereRemoved;
  $('verify').hidden = conversation?.kind !== 'dm';
  $('members').hidden = conversation?.kind !== 'group' || conversation.youWereRemoved;
  if (!conversation) return;
  $('conversation-title').textContent =
    conversation.kind === 'group'
      ? `Group: ${conversation.title}${conversation.youWereRemoved ? ' (you were removed)' : ''}`
      : `With ${conversation.title}`;
  if (conversation.kind === 'group') {
    await updateParticipants(conversation);
    $('members').replaceChildren(...membersView(conversation));
  }
  $('messages').replaceChildren(...conversation.messages.map(messageView));
  $('stored').replaceChildren(...conversation.messages.map(storedView));
  const list = $('messages');
  list.scrollTop = list.scrollHeight;
}
