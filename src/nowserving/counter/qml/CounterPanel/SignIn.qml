import QtQuick
import QtQuick.Layouts

// The sign-in screen: staff number and PIN from an on-screen keypad, in the panel's
// language. Shown (by Main.qml's Loader) while nobody works at the counter, or when staff
// ask to sign in; everything comes from `signIn` (nowserving.counter.signin).
Rectangle {
    id: screen
    required property var panel
    readonly property var signIn: panel.signIn
    readonly property var s: signIn.strings
    readonly property real unit: Math.max(9, Math.min(width / 70, height / 45))
    property string staff: ""
    property string pin: ""
    property string field: "staff"  // where the keypad types
    color: "#111a24"

    function type(key) {
        if (key === "clear") { if (field === "staff") staff = ""; else pin = "" }
        else if (key === "back") {
            if (field === "staff") staff = staff.slice(0, -1); else pin = pin.slice(0, -1)
        } else if (field === "staff" && staff.length < 12) staff += key
        else if (field === "pin" && pin.length < 8) pin += key
    }
    function send() { signIn.signIn(staff, pin); pin = "" }

    RowLayout {  // title, language, and a way back where signing in is not needed
        id: top
        anchors { left: parent.left; right: parent.right; top: parent.top; margins: screen.unit }
        spacing: screen.unit
        Text {
            text: screen.panel.counterName + " · " + screen.s.title
            color: "#ffffff"; font.pixelSize: screen.unit * 2; font.bold: true
        }
        Item { Layout.fillWidth: true }
        Repeater {
            model: screen.panel.languages
            delegate: ActionButton {
                required property var modelData
                unit: screen.unit * 0.8
                implicitWidth: screen.unit * 6
                label: modelData.label
                tint: modelData.code === screen.panel.language ? "#30363d" : "#161b22"
                onClicked: screen.panel.setLanguage(modelData.code)
            }
        }
        ActionButton {
            objectName: "signInCancel"
            visible: !screen.signIn.needed
            unit: screen.unit * 0.8
            label: screen.s.cancel
            tint: "#30363d"
            onClicked: screen.signIn.cancel()
        }
    }

    RowLayout {
        anchors {
            top: top.bottom; bottom: parent.bottom; left: parent.left; right: parent.right
            margins: screen.unit * 2
        }
        spacing: screen.unit * 3

        ColumnLayout {  // the two fields, what went wrong, and the button
            Layout.fillWidth: true
            Layout.alignment: Qt.AlignTop
            spacing: screen.unit
            Text {
                text: screen.s.hint
                color: "#c9d1d9"; font.pixelSize: screen.unit * 1.3
                wrapMode: Text.WordWrap; Layout.fillWidth: true
            }
            Repeater {
                model: [
                    { key: "staff", label: screen.s.staff_number },
                    { key: "pin", label: screen.s.pin }
                ]
                delegate: ColumnLayout {
                    required property var modelData
                    Layout.fillWidth: true
                    spacing: screen.unit * 0.3
                    Text {
                        text: modelData.label
                        color: "#8b949e"; font.pixelSize: screen.unit * 1.2
                    }
                    Rectangle {
                        objectName: "field_" + modelData.key
                        Layout.fillWidth: true
                        implicitHeight: screen.unit * 4
                        radius: screen.unit * 0.4
                        color: "#0d1117"
                        border.width: screen.field === modelData.key ? 3 : 1
                        border.color: screen.field === modelData.key ? "#58a6ff" : "#30363d"
                        Text {
                            anchors { left: parent.left; leftMargin: screen.unit; verticalCenter: parent.verticalCenter }
                            // The PIN is shown as dots only, never as digits.
                            text: modelData.key === "staff" ? screen.staff : "●".repeat(screen.pin.length)
                            color: "#ffffff"; font.pixelSize: screen.unit * 2; font.bold: true
                        }
                        MouseArea { anchors.fill: parent; onClicked: screen.field = modelData.key }
                    }
                }
            }
            Text {
                objectName: "signInError"
                visible: text !== ""
                text: screen.signIn.busy ? screen.s.checking : screen.signIn.error
                color: screen.signIn.busy ? "#c9d1d9" : "#ff7b72"
                font.pixelSize: screen.unit * 1.4; font.bold: true
                wrapMode: Text.WordWrap; Layout.fillWidth: true
            }
            ActionButton {
                objectName: "signInButton"
                Layout.fillWidth: true
                unit: screen.unit
                label: screen.s.sign_in
                tint: "#238636"
                active: screen.staff !== "" && screen.pin.length >= 4 && !screen.signIn.busy
                onClicked: screen.send()
            }
        }

        GridLayout {  // the keypad
            objectName: "keypad"
            Layout.alignment: Qt.AlignTop
            columns: 3
            rowSpacing: screen.unit * 0.6; columnSpacing: screen.unit * 0.6
            Repeater {
                model: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"]
                delegate: ActionButton {
                    required property string modelData
                    objectName: "key_" + modelData
                    unit: screen.unit
                    implicitWidth: screen.unit * 7
                    implicitHeight: screen.unit * 5
                    label: modelData === "clear" ? screen.s.clear
                         : modelData === "back" ? screen.s.back : modelData
                    tint: modelData.length > 1 ? "#30363d" : "#1f6feb"
                    onClicked: {
                        screen.type(modelData)
                        // A staff number of 4 digits typed: the PIN is next.
                        if (screen.field === "staff" && screen.staff.length === 4 && modelData.length === 1)
                            screen.field = "pin"
                    }
                }
            }
        }
    }
}
