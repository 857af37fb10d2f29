// The first visit: a name is asked for before connecting, so the room never sees
// "guest-1329 joined ... guest-1329 is now known as Alice".
import { ui } from './dom.js';
import { state } from './state.js';
import { save, STORE_NAME } from './store.js';
import { nameProblem } from './validate.js';

/** Asks for a name in a modal dialog; calls done(name) once a valid one is given. */
export function askName(done) {
  ui.nameDialog.addEventListener('cancel', (ev) => ev.preventDefault());   // Escape: the name is needed
  ui.nameInput.addEventListener('input', () => { ui.nameError.textContent = ''; });
  ui.nameForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = ui.nameInput.value.trim();
    const why = nameProblem(name);
    if (why) { ui.nameError.textContent = why; ui.nameInput.focus(); return; }
    state.wantedName = name;
    save(STORE_NAME, name);
    ui.nameDialog.close();
    done(name);
  });
  ui.nameDialog.showModal();
  ui.nameInput.focus();
}
