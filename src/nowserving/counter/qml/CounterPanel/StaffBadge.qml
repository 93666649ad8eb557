import QtQuick
import QtQuick.Layouts

// Who works at the counter, with "sign out" (someone signed in) or "sign in" (nobody, or
// the counter's default staff), for the panel's header. Hidden where nobody signs in.
RowLayout {
    id: badge
    required property var signIn
    property real unit: 14
    visible: signIn !== null && signIn.used  // null while the panel is torn down
    spacing: unit * 0.5
    Text {
        text: badge.signIn ? badge.signIn.label : ""
        color: "#c9d1d9"; font.pixelSize: badge.unit * 1.1
    }
    ActionButton {
        objectName: "staffButton"
        unit: badge.unit * 0.8
        label: !badge.signIn ? ""
               : badge.signIn.signedIn ? badge.signIn.strings.sign_out : badge.signIn.strings.sign_in
        tint: "#30363d"
        onClicked: badge.signIn.signedIn ? badge.signIn.signOut() : badge.signIn.ask()
    }
}
